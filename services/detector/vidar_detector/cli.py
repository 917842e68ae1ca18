"""`vidar-detector serve`: run a detector worker."""

from vidar.cli import run_asgi, service_cli
from vidar_detector.app import create_app
from vidar_detector.cpu_priority import lower_cpu_priority
from vidar_detector.settings import DetectorSettings


def serve() -> None:
    """Take jobs from the work queue until SIGINT or SIGTERM; health probes on VIDAR_HOST:VIDAR_PORT."""
    settings = DetectorSettings()
    lower_cpu_priority(settings.cpu_niceness)
    run_asgi(create_app(settings), settings)


app = service_cli("vidar detector: decoding and the detection job loop.", serve)
