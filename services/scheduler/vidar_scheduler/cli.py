"""`vidar-scheduler serve`: run the scheduler service."""

from vidar.cli import run_asgi, service_cli
from vidar_scheduler.app import create_app
from vidar_scheduler.settings import SchedulerSettings


def serve() -> None:
    """Consume the processing events until SIGINT or SIGTERM; health probes on VIDAR_HOST:VIDAR_PORT."""
    settings = SchedulerSettings()
    run_asgi(create_app(settings), settings)


app = service_cli("vidar scheduler: queue, dispatch, status, stop, crash recovery.", serve)
