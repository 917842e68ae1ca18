"""The `Allow` header of 405 answers, and answers to OPTIONS: every method the path serves.

FastAPI routes each method of a path separately, and its 405 names only the methods of the
first route that matched the path; it does not answer OPTIONS at all. The OpenAPI document
knows every operation of every path.
"""

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from vidar.models.errors import ErrorBody
from vidar_gateway.errors import error_response

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})


def _documented_methods(app: FastAPI, path: str) -> set[str]:
    """The methods of the most specific paths that match: /videos/count/ is the count, not the
    archive of id "count"."""
    matching = [
        (template.count("{"), operations)
        for template, operations in app.openapi()["paths"].items()
        if compile_path(template)[0].match(path)
    ]
    fewest_parameters = min((parameters for parameters, _ in matching), default=0)
    return {
        method.upper()
        for parameters, operations in matching
        if parameters == fewest_parameters
        for method in operations
    } & _HTTP_METHODS


async def _method_not_allowed(request: Request, exc: HTTPException) -> Response:
    # Routes left out of the OpenAPI document (the docs, /metrics) have one route a path.
    routed = {method.strip() for method in (exc.headers or {}).get("Allow", "").split(",") if method.strip()}
    methods = _documented_methods(request.app, request.scope["path"]) or routed
    allow = ", ".join(sorted(methods | {"OPTIONS"}))
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": allow})
    desc = f"{request.method} is not allowed here; allowed: {allow}"
    return error_response(405, ErrorBody(code="METHOD_NOT_ALLOWED", desc=desc), headers={"Allow": allow})


def install(app: FastAPI) -> None:
    app.add_exception_handler(405, _method_not_allowed)
