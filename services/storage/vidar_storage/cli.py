"""`vidar-storage`: run the storage service."""

import typer
import uvicorn

from vidar_storage.app import create_app
from vidar_storage.settings import StorageSettings

app = typer.Typer(help="vidar storage: source files, probing, screenshots, URL fetches.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Keeps `serve` a subcommand, as in every vidar service."""


@app.command()
def serve() -> None:
    """Consume the archive events until SIGINT or SIGTERM; health probes on VIDAR_HOST:VIDAR_PORT."""
    settings = StorageSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, lifespan="on")
