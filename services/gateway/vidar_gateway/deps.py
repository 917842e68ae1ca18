"""Route dependencies as short aliases, so a route's signature reads as a sentence.

Each is a coroutine function, even where it awaits nothing: FastAPI runs a plain function's
dependency in its thread pool, a thread hop for each one of each request (about a dozen a create).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from vidar_gateway.auth import Role
from vidar_gateway.bodies import JsonBodyRoute, check_text
from vidar_gateway.camera_groups.store import CameraGroupStore
from vidar_gateway.clusters.store import ClusterStore
from vidar_gateway.errors import ERROR_RESPONSES, ApiError
from vidar_gateway.events.store import EventStore
from vidar_gateway.runtime import Runtime
from vidar_gateway.videos.processing import ProcessingRequests
from vidar_gateway.videos.sources import Sources
from vidar_gateway.videos.store import VideoStore

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SCHEME = "token"


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def _runtime_dependency(request: Request) -> Runtime:
    return _runtime(request)


async def _caller(request: Request) -> Role:
    """Authenticate the request and refuse writes to read-only tokens."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != _SCHEME or not token.strip():
        raise ApiError(401, "Authorization header must be 'Token <token>'", param="Authorization")
    role = await _runtime(request).tokens.role_of(token.strip())
    if role is None:
        raise ApiError(401, "invalid or revoked token", param="Authorization")
    if request.method not in _READ_METHODS and not role.can_write:
        raise ApiError(403, f"a {role} token cannot change anything")
    return role


async def _require_json(request: Request) -> None:
    """A JSON body whose every string is storable text (`bodies.check_text`)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, f"expected application/json, got {media_type or 'no content type'}", param="Content-Type")
    check_text(await request.body())  # FastAPI has read it already, before the dependencies


async def _base_url(request: Request) -> str:
    """The base of absolute URLs in responses: VIDAR_PUBLIC_URL, else the request's own."""
    return (_runtime(request).settings.public_url or str(request.base_url)).rstrip("/")


async def _videos(request: Request) -> VideoStore:
    return _runtime(request).videos


async def _sources(request: Request) -> Sources:
    return _runtime(request).sources


async def _processing(request: Request) -> ProcessingRequests:
    return _runtime(request).processing


async def _camera_groups(request: Request) -> CameraGroupStore:
    return _runtime(request).camera_groups


async def _events(request: Request) -> EventStore:
    return _runtime(request).events


async def _clusters(request: Request) -> ClusterStore:
    return _runtime(request).clusters


RuntimeDep = Annotated[Runtime, Depends(_runtime_dependency)]
BaseUrl = Annotated[str, Depends(_base_url)]
Caller = Annotated[Role, Depends(_caller)]
VideosRepo = Annotated[VideoStore, Depends(_videos)]
SourcesRepo = Annotated[Sources, Depends(_sources)]
Processing = Annotated[ProcessingRequests, Depends(_processing)]
CameraGroupsRepo = Annotated[CameraGroupStore, Depends(_camera_groups)]
EventsRepo = Annotated[EventStore, Depends(_events)]
ClustersRepo = Annotated[ClusterStore, Depends(_clusters)]
authenticated = Depends(_caller)
json_body = Depends(_require_json)


def api_router(prefix: str, tag: str) -> APIRouter:
    """A router of the API: every route authenticated, its errors documented, JSON bodies capped."""
    return APIRouter(
        prefix=prefix, tags=[tag], dependencies=[authenticated], responses=ERROR_RESPONSES, route_class=JsonBodyRoute
    )
