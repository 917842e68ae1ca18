"""`vidar token create`: API tokens live in MongoDB and no endpoint creates them (a token that
could mint tokens over HTTP would be one more thing to guard), so this runs the gateway's own
`vidar-gateway token create` code against MongoDB, with the gateway's settings."""

from enum import StrEnum
from typing import Annotated

import typer

from vidar_cli.api import fail

tokens = typer.Typer(help="API tokens (written to MongoDB directly, as `vidar-gateway token` does).")


class Role(StrEnum):
    admin = "admin"
    operator = "operator"
    viewer = "viewer"


@tokens.command("create")
def create(
    role: Annotated[Role, typer.Option(help="admin, operator (read and write) or viewer (read only)")] = Role.operator,
    name: Annotated[str, typer.Option(help="who or what uses the token")] = "",
) -> None:
    """Print a new token (only its digest is stored: keep it). Needs the vidar-gateway package
    here and MongoDB's address in VIDAR_MONGO_URL and VIDAR_MONGO_DB; --url and --token play no part."""
    # Imported here: the gateway (FastAPI, PyMongo) is optional for every other command.
    try:
        from pymongo.errors import PyMongoError

        from vidar_gateway import auth, cli
    except ImportError:
        fail("`vidar token create` needs the vidar-gateway package installed beside vidar-cli")
    try:
        cli.create_token(role=auth.Role(role.value), name=name)
    except PyMongoError as exc:
        fail(f"MongoDB: {exc}")
