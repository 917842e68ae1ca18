"""The web UI's page, its assets, and the sign-in that lets its `<video>` element read sources.

The UI calls the API with `Authorization: Token` like any script. The one thing it cannot do
that way is play a video, so signing in also sets the HttpOnly cookie that only the source
endpoint reads (see `vidar_gateway.videos.source_stream`).
"""

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from vidar_gateway.auth import Role
from vidar_gateway.errors import ApiError
from vidar_gateway.videos.source_stream import SOURCE_COOKIE, SOURCE_COOKIE_PATH

STATIC = Path(__file__).parent / "static"
ASSETS_PATH = "/ui"
# Not part of the API: a viewer signs in too, and a script has no use for the cookie.
router = APIRouter(include_in_schema=False)


class Session(BaseModel):
    role: Role


def assets() -> StaticFiles:
    return StaticFiles(directory=STATIC)


@router.get("/")
async def index() -> FileResponse:
    # Revalidated each time, so an upgraded gateway serves its own page with its own modules.
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@router.post("/ui/session/")
async def sign_in(request: Request, response: Response) -> Session:
    """Checks the token of the Authorization header, answers its role, and sets the source cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    role = await request.app.state.runtime.tokens.role_of(token.strip()) if scheme.lower() == "token" else None
    if role is None:
        raise ApiError(401, "this token is not valid: check it, or ask for a new one", param="Authorization")
    response.set_cookie(
        SOURCE_COOKIE,
        token.strip(),
        path=SOURCE_COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return Session(role=role)


@router.delete("/ui/session/", status_code=204)
async def sign_out(response: Response) -> None:
    response.delete_cookie(SOURCE_COOKIE, path=SOURCE_COOKIE_PATH, httponly=True, samesite="strict")
