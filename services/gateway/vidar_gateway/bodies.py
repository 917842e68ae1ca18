"""JSON request bodies are small: one over MAX_JSON_BYTES is refused (413) as soon as its
Content-Length or its bytes so far say so, never read whole first. Video uploads stream through
a route of their own, which parses no body, and are not capped here."""

from collections.abc import Callable, Coroutine
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
