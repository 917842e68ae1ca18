"""An event's thumbnail and full frame, sent through the gateway from object storage.

Through the gateway rather than a presigned redirect: the S3 server is often on a network the
API's clients cannot reach, and the token check stays in one place.
"""

import hashlib
import logging
from pathlib import PurePosixPath

from fastapi import Request, Response

from vidar import archive
from vidar.objectstore import ObjectStore
from vidar_gateway.deps import EventsRepo, RuntimeDep, api_router
from vidar_gateway.errors import ApiError
from vidar_gateway.events.present import ObjectTypePath
from vidar_gateway.events.router import EventId

log = logging.getLogger(__name__)
router = api_router("/events", "events")
# An event's images never change: a new run posts new events under new keys.
CACHE_CONTROL = "private, max-age=31536000, immutable"
_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_NOT_MODIFIED: dict[int | str, dict] = {304: {"description": "Not modified: the If-None-Match ETag is current"}}
_JPEG: dict[int | str, dict] = {200: {"content": {"image/jpeg": _BINARY}, "description": "JPEG image"}, **_NOT_MODIFIED}
_FRAME: dict[int | str, dict] = {
    200: {"content": {"image/jpeg": _BINARY, "image/png": _BINARY}, "description": "JPEG or PNG"},
    **_NOT_MODIFIED,
}


@router.get(
    "/{object_type}/{event_id}/thumbnail/", summary="Get an event's thumbnail", response_class=Response, responses=_JPEG
)
async def get_thumbnail(
    object_type: ObjectTypePath, event_id: EventId, request: Request, events: EventsRepo, runtime: RuntimeDep
) -> Response:
    doc = await events.get(object_type.kind, event_id)
    return await _image(request, runtime.objects, event_id, _own_key(doc, "thumbnail_key"))


@router.get(
    "/{object_type}/{event_id}/full_frame/",
    summary="Get an event's full frame",
    response_class=Response,
    responses=_FRAME,
)
async def get_full_frame(
    object_type: ObjectTypePath, event_id: EventId, request: Request, events: EventsRepo, runtime: RuntimeDep
) -> Response:
    doc = await events.get(object_type.kind, event_id)
    return await _image(request, runtime.objects, event_id, _own_key(doc, "full_frame_key"))


def _own_key(doc: dict, field: str) -> str | None:
    """The event's image key if it is under its own archive's detections (the detection record is
    stored data: a key naming another archive's objects, or an upload, is not served)."""
    key = doc.get(field)
    video_id = doc.get("video_id")
    if not key or not isinstance(video_id, int):
        return None
    if not (isinstance(key, str) and archive.is_under(key, archive.detections_prefix(video_id))):
        log.warning(
            "event %s: its %s %r is outside archive %d's detections; not served", doc.get("_id"), field, key, video_id
        )
        return None
    return key


async def _image(request: Request, objects: ObjectStore, event_id: str, key: str | None) -> Response:
    """The object's bytes with caching headers; 304 without reading it when the client has it."""
    if not key:
        raise _no_image(event_id)
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag(event_id, key)}
    if _matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    image = await objects.get_bytes(key)
    if image is None:
        raise _no_image(event_id)
    return Response(image, media_type=media_type(key), headers=headers)


def _no_image(event_id: str) -> ApiError:
    return ApiError(404, f"event {event_id} has no such image", param="id")


def etag(event_id: str, key: str) -> str:
    return '"' + hashlib.sha256(f"{event_id}\n{key}".encode()).hexdigest()[:32] + '"'


def media_type(key: str) -> str:
    """Thumbnails are JPEG; a full frame is JPEG or PNG (`fullframe_use_png`), as its key says."""
    return _MEDIA_TYPES.get(PurePosixPath(key).suffix.lower(), "image/jpeg")


def _matches(if_none_match: str | None, current: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or current in tags
