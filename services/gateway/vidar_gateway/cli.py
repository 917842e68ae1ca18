"""`vidar-gateway`: serve the API, and manage API tokens directly in MongoDB."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from vidar import mongo
from vidar.cli import run_asgi
from vidar_gateway.app import create_app
from vidar_gateway.auth import Role, TokenStore
from vidar_gateway.settings import GatewaySettings

app = typer.Typer(help="vidar gateway: the HTTP API.", no_args_is_help=True)
tokens = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
app.add_typer(tokens, name="token")
T = TypeVar("T")


@app.command()
def serve(workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1) -> None:
    """Serve the API on VIDAR_HOST:VIDAR_PORT."""
    settings = GatewaySettings()
    if workers == 1:
        run_asgi(create_app(settings), settings, proxy_headers=True)
    else:
        run_asgi("vidar_gateway.app:create_app", settings, factory=True, workers=workers, proxy_headers=True)


def _with_tokens(work: Callable[[TokenStore], Awaitable[T]]) -> T:
    async def run() -> T:
        settings = GatewaySettings()
        client = mongo.connect(settings)
        try:
            return await work(TokenStore(client[settings.mongo_db]))
        finally:
            await client.close()

    return asyncio.run(run())


@tokens.command("create")
def create_token(
    role: Annotated[Role, typer.Option(help="admin, operator (read and write) or viewer (read only)")] = Role.OPERATOR,
    name: Annotated[str, typer.Option(help="who or what uses the token")] = "",
) -> None:
    """Print a new token; only its digest is stored, so keep it."""
    typer.echo(_with_tokens(lambda store: store.create(role, name)))


@tokens.command("list")
def list_tokens() -> None:
    for token in _with_tokens(TokenStore.list):
        typer.echo(f"{token['role']:<9} {token['created_date']:%Y-%m-%d %H:%M} {token.get('name', '')}")


@tokens.command("revoke")
def revoke_token(
    token_or_name: Annotated[str, typer.Argument(help="the token itself, or the name given at creation")],
) -> None:
    removed = _with_tokens(lambda store: store.revoke(token_or_name))
    typer.echo(f"revoked {removed} token(s)")
    if not removed:
        raise typer.Exit(1)
