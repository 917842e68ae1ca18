"""One error shape everywhere: {"code", "desc", "param"}, FindFace style."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException

from vidar.models.errors import ErrorBody

_CODES = {
    400: "BAD_PARAM",
    401: "UNAUTHORIZED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    503: "UNAVAILABLE",
}
log = logging.getLogger(__name__)
# The `loc` prefix FastAPI adds that is not part of the field's name.
_LOCATIONS = {"body", "query", "path", "header"}


class ApiError(Exception):
    def __init__(self, status: int, desc: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(desc)
        self.status = status
        self.body = ErrorBody(code=code or _CODES.get(status, "ERROR"), desc=desc, param=param)


def not_found(kind: str, object_id: int | str) -> ApiError:
    return ApiError(404, f"{kind} {object_id} does not exist", param="id")


def error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _param_of(loc: tuple) -> str | None:
    # Only the first part is a location: the `body` detector of stream_settings is a field.
    names = [str(part) for part in (loc[1:] if loc and loc[0] in _LOCATIONS else loc)]
    return ".".join(names) or None


def _describe(error: dict, param: str | None) -> str:
    if error.get("type") == "extra_forbidden":
        return f"{param}: unknown parameter"
    return f"{param}: {error.get('msg')}" if param else str(error.get("msg"))


async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.body)


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        # Its `loc` is ("body", character offset): the offset is no field.
        offset = first["loc"][-1]
        desc = f"body: not valid JSON: {first.get('ctx', {}).get('error')} at character {offset}"
        return error_response(400, ErrorBody(code="BAD_PARAM", desc=desc, param="body"))
    param = _param_of(tuple(first.get("loc", ())))
    return error_response(400, ErrorBody(code="BAD_PARAM", desc=_describe(first, param), param=param))


async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
    body = ErrorBody(code=_CODES.get(exc.status_code, "ERROR"), desc=str(exc.detail))
    return error_response(exc.status_code, body, headers=getattr(exc, "headers", None))


async def _database_unavailable(_: Request, exc: ConnectionFailure) -> JSONResponse:
    log.warning("MongoDB unavailable: %s", exc)
    return error_response(503, ErrorBody(code="UNAVAILABLE", desc="the database is unavailable; try again"))


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, ErrorBody(code="INTERNAL", desc="internal error; see the gateway log"))


def install(app: FastAPI) -> None:
    # Starlette types every handler as taking any Exception; each of these takes the class it is
    # registered for, which is all Starlette ever passes it.
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_exception_handler(ConnectionFailure, _database_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]


# For route declarations: the error responses documented in OpenAPI.
ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorBody, "description": code} for status, code in _CODES.items()
}
