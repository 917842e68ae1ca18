"""The command line every vidar service shares: `vidar-<service> serve`."""

from collections.abc import Callable
from typing import Any

import typer
import uvicorn

from vidar.settings import VidarSettings


def service_cli(help_text: str, serve: Callable[[], None]) -> typer.Typer:
    app = typer.Typer(help=help_text, no_args_is_help=True)

    @app.callback()
    def main() -> None:
        """Keeps `serve` a subcommand, as in every vidar service."""

    app.command(name="serve")(serve)
    return app


def run_asgi(app: Any, settings: VidarSettings, **options: Any) -> None:
    """Serve on VIDAR_HOST:VIDAR_PORT; lifespan="on" ends the process if start-up fails."""
    uvicorn.run(app, host=settings.host, port=settings.port, lifespan="on", **options)
