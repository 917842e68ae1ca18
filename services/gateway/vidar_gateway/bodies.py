"""JSON request bodies are small: one over MAX_JSON_BYTES is refused (413) as soon as its
Content-Length or its bytes so far say so, never read whole first. Video uploads stream through
a route of their own, which parses no body, and are not capped here.

Every string of a body is Unicode text: JSON's `\\u` escapes can write a lone UTF-16 surrogate
(`"\\ud800"`), which Python's parser keeps and no database stores (the driver raised
UnicodeEncodeError, a 500, and dropped the connection mid-PATCH). `check_text` refuses such a body
with a 400 naming the field, whatever the field, before any model sees it; every JSON route calls
it through `deps.json_body`, after the token is checked (tests/gateway/test_surrogates.py finds
the JSON routes in the OpenAPI document, so one without it fails there). Query strings and paths
need no such check: Starlette and uvicorn decode them as UTF-8 with replacement, so they hold
text only."""

import json
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message, Receive

from vidar_gateway.errors import ApiError

# The largest archive, with every setting and a long router_url, is under 10 KiB.
MAX_JSON_BYTES = 1024 * 1024


def _too_large() -> ApiError:
    return ApiError(413, f"the request body is larger than {MAX_JSON_BYTES} bytes", param="body")


async def _read_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_JSON_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise _too_large()
    return bytes(body)


def _unstorable(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Where a parsed JSON document holds a string, or an object key, that is not Unicode text."""
    if isinstance(value, str):
        if not _is_text(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from ((*path, key),) if not _is_text(key) else _unstorable(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable(item, (*path, str(index)))


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(body: bytes) -> None:
    """A 400 naming the first field whose string is no Unicode text (a body that is not JSON is
    left to FastAPI's own error)."""
    try:
        document = json.loads(body)
    except ValueError:
        return
    for path in _unstorable(document):
        # The name itself may hold the surrogate (an object key): escaped, so the answer encodes.
        param = ".".join(path).encode("utf-8", "backslashreplace").decode("utf-8") or "body"
        raise ApiError(400, f"{param}: not Unicode text (a lone UTF-16 surrogate)", param=param)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` that hands over the body already read, then the client's later messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


class JsonBodyRoute(APIRoute):
    """A route whose JSON body FastAPI parses, read first with the cap."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def capped(request: Request) -> Response:
            body = await _read_capped(request)
            return await handler(Request(request.scope, _replaying(body, request.receive)))

        return capped
