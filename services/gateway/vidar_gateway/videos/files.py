"""The archive's files: source upload and removal, and its screenshot."""

from typing import Annotated

from fastapi import Query, Request, Response
from faststream.nats import NatsBroker

from vidar import archive, subjects
from vidar.models.events import ScreenshotReply, ScreenshotRequest
from vidar.models.stream_settings import MAX_SECONDS
from vidar.models.video import Video
from vidar_gateway.deps import RuntimeDep, SourcesRepo, VideosRepo, api_router
from vidar_gateway.errors import ApiError
from vidar_gateway.videos.router import Present, VideoId

router = api_router("/videos", "videos")
_ACCEPTED = "video/* or application/octet-stream"
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_JPEG: dict[int | str, dict] = {200: {"content": {"image/jpeg": _BINARY}, "description": "JPEG image"}}
_SCREENSHOT_TIMEOUT = 60.0


def _accepted_media_type(request: Request) -> str:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not (media_type.startswith("video/") or media_type == "application/octet-stream"):
        raise ApiError(415, f"expected {_ACCEPTED}, got {media_type or 'no content type'}", param="Content-Type")
    return media_type


def _declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the file is larger than the limit of {limit} bytes", param="source_file")


@router.put(
    "/{video_id}/upload/source_file/",
    status_code=201,
    summary="Upload a video file",
    openapi_extra={
        "requestBody": {"required": True, "content": {"video/mp4": _BINARY, "application/octet-stream": _BINARY}}
    },
)
async def upload_source_file(video_id: VideoId, request: Request, sources: SourcesRepo, present: Present) -> Video:
    """Streams the body into object storage; memory stays flat whatever the file's size."""
    media_type = _accepted_media_type(request)
    _declared_length(request, sources.limit)
    return present(await sources.upload(video_id, request.stream(), media_type))


@router.delete("/{video_id}/file/", status_code=204, summary="Delete the source file, keep the archive")
async def delete_source_file(video_id: VideoId, sources: SourcesRepo) -> Response:
    await sources.delete(video_id)
    return Response(status_code=204)


@router.get("/{video_id}/screenshot/", summary="Get the screenshot", response_class=Response, responses=_JPEG)
async def get_screenshot(video_id: VideoId, videos: VideosRepo, runtime: RuntimeDep) -> Response:
    doc = await videos.get(video_id)
    has_screenshot = doc.get("screenshot_key") == archive.screenshot_key(video_id)
    image = await runtime.objects.get_bytes(archive.screenshot_key(video_id)) if has_screenshot else None
    if image is None:
        raise ApiError(404, f"video {video_id} has no screenshot yet", param="id")
    return Response(image, media_type="image/jpeg", headers={"Cache-Control": "no-cache"})


@router.post("/{video_id}/screenshot/", summary="Draw the screenshot again", response_class=Response, responses=_JPEG)
async def regenerate_screenshot(
    video_id: VideoId,
    videos: VideosRepo,
    runtime: RuntimeDep,
    timestamp: Annotated[
        float | None,
        Query(ge=0, le=MAX_SECONDS, allow_inf_nan=False, description="Seconds from the start; default: a tenth in"),
    ] = None,
) -> Response:
    doc = await videos.get(video_id)
    if doc.get("source") is None:
        raise ApiError(404, f"video {video_id} has no source file", param="id")
    if timestamp is not None and doc.get("source_len") is not None and timestamp > doc["source_len"]:
        raise ApiError(400, f"timestamp: beyond the video's length of {doc['source_len']} s", param="timestamp")
    reply = await _ask_storage(runtime.broker, ScreenshotRequest(video_id=video_id, timestamp=timestamp))
    if reply.error or reply.key != archive.screenshot_key(video_id):
        raise ApiError(409, f"no screenshot: {reply.error or 'storage named another object'}", param="timestamp")
    image = await runtime.objects.get_bytes(reply.key)
    return Response(image, media_type="image/jpeg", headers={"Cache-Control": "no-cache"})


async def _ask_storage(broker: NatsBroker, request: ScreenshotRequest) -> ScreenshotReply:
    try:
        response = await broker.request(request, subjects.SCREENSHOT_REQUEST, timeout=_SCREENSHOT_TIMEOUT)
    except Exception as error:
        raise ApiError(503, f"the storage service did not answer: {error}", code="UNAVAILABLE") from error
    return ScreenshotReply.model_validate_json(response.body)
