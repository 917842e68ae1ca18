"""The `Allow` header of 405 answers, and answers to OPTIONS: every method the path serves.

FastAPI routes each method of a path separately, and its 405 names only the methods of the
first route that matched the path; it does not answer OPTIONS at all. The OpenAPI document
knows every operation of every path.

A path with a route of its own is not routed to a parameter's route for the methods it lacks:
PUT /videos/count/ is a 405 (the count is read only), not PUT /videos/{video_id}/ answering for
an archive of id "count" (whose JSON check made it a 415, issue 24).
"""

import functools
import re

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from vidar.models.errors import ErrorBody
from vidar_gateway.errors import error_response

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})


@functools.cache
def _pattern(template: str) -> re.Pattern[str]:
    """A documented path's regex, compiled once (every request asks)."""
    return compile_path(template)[0]


def _documented_methods(app: FastAPI, path: str) -> set[str]:
    """The methods of the most specific paths that match: /videos/count/ is the count, not the
    archive of id "count"."""
    matching = [
        (template.count("{"), operations)
        for template, operations in app.openapi()["paths"].items()
        if _pattern(template).match(path)
    ]
    fewest_parameters = min((parameters for parameters, _ in matching), default=0)
    return {
        method.upper()
        for parameters, operations in matching
        if parameters == fewest_parameters
        for method in operations
    } & _HTTP_METHODS


def _shadowed(app: FastAPI, method: str, path: str) -> set[str] | None:
    """The methods of `path`, if `method` is not one of them but a route with a parameter would
    take it (PUT /videos/count/ and PUT /videos/{video_id}/); None otherwise."""
    own = _documented_methods(app, path)
    wanted = "GET" if method == "HEAD" else method
    if not own or wanted in own:
        return None
    taken = any(
        wanted.lower() in operations and _pattern(template).match(path)
        for template, operations in app.openapi()["paths"].items()
    )
    return own if taken else None


def _not_allowed(method: str, methods: set[str]) -> Response:
    allow = ", ".join(sorted(methods | {"OPTIONS"}))
    if method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": allow})
    desc = f"{method} is not allowed here; allowed: {allow}"
    return error_response(405, ErrorBody(code="METHOD_NOT_ALLOWED", desc=desc), headers={"Allow": allow})


async def _method_not_allowed(request: Request, exc: HTTPException) -> Response:
    # Routes left out of the OpenAPI document (the docs, /metrics) have one route a path.
    routed = {method.strip() for method in (exc.headers or {}).get("Allow", "").split(",") if method.strip()}
    return _not_allowed(request.method, _documented_methods(request.app, request.scope["path"]) or routed)


class _OwnMethodsFirst:
    """Answers 405 before routing when a path's own route lacks the method (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _HTTP_METHODS:
            methods = _shadowed(scope["app"], scope["method"], scope["path"])
            if methods is not None:
                await _not_allowed(scope["method"], methods)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    # Starlette types a handler as taking any Exception; a status code's handler gets an HTTPException.
    app.add_exception_handler(405, _method_not_allowed)  # type: ignore[arg-type]
    app.add_middleware(_OwnMethodsFirst)
