"""`vidar-detector`: run a detector worker."""

import typer
import uvicorn

from vidar_detector.app import create_app
from vidar_detector.settings import DetectorSettings

app = typer.Typer(help="vidar detector: decoding and the detection job loop.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Keeps `serve` a subcommand, as in every vidar service."""


@app.command()
def serve() -> None:
    """Take jobs from the work queue until SIGINT or SIGTERM; health probes on VIDAR_HOST:VIDAR_PORT."""
    settings = DetectorSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, lifespan="on")
