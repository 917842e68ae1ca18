"""The HTTP API as the commands use it: JSON calls, cursor pages, and failures as one message."""

import functools
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, ParamSpec, TypeVar

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from vidar_cli.config import ConfigError, Connection

P = ParamSpec("P")
R = TypeVar("R")


def stderr() -> Console:
    """Progress, messages and errors, so that stdout stays data a script can read; not wrapped
    at the terminal's width, so a path or an error stays whole. A console per use: it looks at
    the stream (a terminal or not, colours) when made, and a test runner swaps the streams."""
    return Console(stderr=True, soft_wrap=True)


def stdout() -> Console:
    return Console()


class ApiFailure(Exception):
    """A request the API refused or that did not reach it, said in one line."""


def describe(response: httpx.Response) -> str:
    """`401 UNAUTHORIZED: <desc>` from the gateway's error body {"code", "desc", "param"}."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "desc" in body:
        return f"{response.status_code} {body.get('code', response.reason_phrase)}: {body['desc']}"
    return f"{response.status_code} {response.reason_phrase}: {response.text[:200]}".rstrip(": ")


class Api:
    def __init__(self, connection: Connection, timeout: float = 30) -> None:
        self.url = connection.url
        self._http = httpx.Client(
            base_url=connection.url, headers={"Authorization": f"Token {connection.token}"}, timeout=timeout
        )

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        """`path` is relative to the API's URL, or an absolute URL the API gave (an image)."""
        try:
            response = self._http.request(method, path, **options)
        except httpx.TransportError as exc:
            raise ApiFailure(f"request to {self.url} failed: {type(exc).__name__}: {exc}") from exc
        if response.is_error:
            raise ApiFailure(describe(response))
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json).json()

    def enum(self, schema: str) -> list[str]:
        """The values of an enum of the API's OpenAPI document, e.g. `ProcessingStatus`."""
        return self.get("/openapi.json")["components"]["schemas"][schema]["enum"]

    def rows(self, path: str, params: dict[str, Any], *, every_page: bool) -> Iterator[dict]:
        """A list's rows, following `next_page` cursors when `every_page`; a last page that is
        not the end is reported on stderr."""
        while True:
            page = self.get(path, **params)
            yield from page["results"]
            if not page.get("next_page"):
                return
            if not every_page:
                stderr().print("[dim]more rows: --all lists every page[/]")
                return
            params = {**params, "page": page["next_page"]}


def api_of(ctx: typer.Context) -> Api:
    """The client for the flags, environment or config file given to `vidar` (see main.py)."""
    return ctx.obj()


def reporting_failures(command: Callable[P, R]) -> Callable[P, R]:
    """Prints a failure as one line on stderr and exits 1: no traceback for an API's answer."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (ApiFailure, ConfigError, OSError) as failure:
            fail(str(failure))

    return run


def fail(message: str) -> NoReturn:
    """One unwrapped line on stderr, exit 1."""
    stderr().print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)
