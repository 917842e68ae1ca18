"""`vidar-scheduler`: run the scheduler service."""

import typer
import uvicorn

from vidar_scheduler.app import create_app
from vidar_scheduler.settings import SchedulerSettings

app = typer.Typer(help="vidar scheduler: queue, dispatch, status, stop, crash recovery.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Keeps `serve` a subcommand, as in every vidar service."""


@app.command()
def serve() -> None:
    """Consume the processing events until SIGINT or SIGTERM; health probes on VIDAR_HOST:VIDAR_PORT."""
    settings = SchedulerSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, lifespan="on")
