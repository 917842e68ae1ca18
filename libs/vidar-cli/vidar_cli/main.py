"""`vidar`: the command line of the vidar HTTP API."""

from typing import Annotated

import typer

from vidar_cli import detect, events, videos
from vidar_cli.api import Api
from vidar_cli.config import resolve

app = typer.Typer(
    help="vidar's command-line client: upload and process videos, list archives, get detections, detect in a photo.",
    no_args_is_help=True,
)


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(envvar="VIDAR_URL", help="the API's base URL")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="VIDAR_TOKEN", help="an API token (`vidar-gateway token create` makes one)")
    ] = None,
) -> None:
    """URL and token come from the flags, else VIDAR_URL and VIDAR_TOKEN, else `url` and `token`
    in $VIDAR_CONFIG or ~/.config/vidar/config.toml; the URL defaults to http://127.0.0.1:8000.
    Tokens are made where MongoDB is reachable, by `vidar-gateway token create`."""
    # Resolved when a command calls the API, so --help needs neither.
    ctx.obj = lambda: Api(resolve(url, token))


for command in (videos.upload, videos.ls, videos.show, videos.process, videos.stop, events.events, detect.detect):
    app.command()(command)
