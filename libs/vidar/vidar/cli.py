"""The command line every vidar service shares: `vidar-<service> serve`."""

from collections.abc import Callable
from typing import Any

import typer
import uvicorn

from vidar.logs import logging_config
from vidar.settings import VidarSettings


def service_cli(help_text: str, serve: Callable[[], None]) -> typer.Typer:
    app = typer.Typer(help=help_text, no_args_is_help=True)

    @app.callback()
    def main() -> None:
        """Keeps `serve` a subcommand, as in every vidar service."""

    app.command(name="serve")(serve)
    return app


def run_asgi(app: Any, settings: VidarSettings, **options: Any) -> None:
    """Serve on VIDAR_HOST:VIDAR_PORT; lifespan="on" ends the process if start-up fails. Logs
    are configured here, once for every service: uvicorn applies the config (in each worker)."""
    log_config = logging_config(settings.log_format)
    uvicorn.run(app, host=settings.host, port=settings.port, lifespan="on", log_config=log_config, **options)
