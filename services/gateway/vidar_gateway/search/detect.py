"""POST /detect/: the faces, bodies and cars in an uploaded image, each kept for a while (24 h by
default) so that `looks_like=detection:<id>` finds where it appeared.

The models run in a detector (the gateway imports none): the image goes to object storage, a
detector replica is asked for its objects over NATS request-reply (an image may exceed a NATS
message's 1 MB), and the object is removed once it has answered.
"""

import io
import warnings

from fastapi import APIRouter, Request
from faststream.nats import NatsBroker
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import UploadFile

from vidar import archive, subjects
from vidar.models.search import DetectReply, DetectRequest, DetectResult
from vidar.models.stream_settings import DETECTOR_TYPES
from vidar_gateway.deps import RuntimeDep, authenticated
from vidar_gateway.errors import ERROR_RESPONSES, ApiError
from vidar_gateway.search.deps import SearchDep, search_lifespan

# FindFace's own set; Pillow reads their headers without decoding the pixels.
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
PARAM = "image"

# The router that brings search's parts up with the gateway (its lifespan) and serves /detect/.
router = APIRouter(
    prefix="/detect", tags=["search"], dependencies=[authenticated], responses=ERROR_RESPONSES, lifespan=search_lifespan
)
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            **{media: {"schema": {"type": "string", "format": "binary"}} for media in IMAGE_TYPES},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"photo": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


@router.post("/", summary="Find the faces, bodies and cars in an image", openapi_extra=_BODY)
async def detect(request: Request, runtime: RuntimeDep, search: SearchDep) -> DetectResult:
    settings = search.settings
    image = await _image(request, settings.detect_max_bytes)
    _check(image, settings.detect_max_pixels)
    key = archive.detect_upload_key()
    await runtime.objects.put_bytes(key, image, "application/octet-stream")
    try:
        asked = DetectRequest(image_key=key, kinds=list(DETECTOR_TYPES))
        reply = await _ask_detector(runtime.broker, asked, settings.detect_timeout)
    finally:
        await runtime.objects.remove(key)
    if reply.failure:
        raise ApiError(503, f"the detector could not run its models: {reply.failure}", code="UNAVAILABLE")
    if reply.error:
        raise ApiError(400, f"{PARAM}: {reply.error}", param=PARAM)
    found = sorted(reply.objects, key=lambda item: -item.quality)
    kept = await search.detections.add(found)
    # What each object looks like is the detector's answer, not kept with the detection.
    described = [(item, detection.model_copy(update={"features": item.features})) for item, detection in kept]
    by_kind = {kind: [detection for item, detection in described if item.kind == kind] for kind in DETECTOR_TYPES}
    return DetectResult(faces=by_kind["face"], bodies=by_kind["body"], cars=by_kind["car"])


async def _image(request: Request, limit: int) -> bytes:
    """The image's bytes: the body itself, or the one file of a multipart form."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in IMAGE_TYPES and media_type != "multipart/form-data":
        expected = ", ".join([*IMAGE_TYPES, "multipart/form-data"])
        raise ApiError(415, f"expected one of {expected}, got {media_type or 'no content type'}", param="Content-Type")
    body = await _read_capped(request, limit)
    if media_type != "multipart/form-data":
        return body
    return await _form_file(request, body)


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    if not body:
        raise ApiError(400, f"{PARAM}: the request has no image", param=PARAM)
    return bytes(body)


async def _form_file(request: Request, body: bytes) -> bytes:
    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=10)
    files = [value for value in form.values() if isinstance(value, UploadFile)]
    if not files:
        raise ApiError(400, f"{PARAM}: the form has no file", param=PARAM)
    return await files[0].read()


def _check(image: bytes, max_pixels: int) -> None:
    """A JPEG, PNG or WebP of at most `max_pixels`, by its header (a small file may decode huge)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image), formats=list(IMAGE_TYPES.values())) as opened:
                width, height = opened.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow refuses, by its header, an image over its own limit (about 89 M pixels) before
        # saying its size: too many pixels all the same, the 413 the README promises, not a 400.
        raise _too_many_pixels(f"more than {Image.MAX_IMAGE_PIXELS}", max_pixels) from None
    except (UnidentifiedImageError, OSError):
        raise ApiError(400, f"{PARAM}: not a JPEG, PNG or WebP image", param=PARAM) from None
    if width * height > max_pixels:
        raise _too_many_pixels(f"{width}x{height}", max_pixels)


def _too_many_pixels(size: str, max_pixels: int) -> ApiError:
    return ApiError(413, f"{PARAM}: {size} is more than {max_pixels} pixels", param=PARAM)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"{PARAM}: the image is larger than {limit} bytes", param=PARAM)


async def _ask_detector(broker: NatsBroker, request: DetectRequest, wait: float) -> DetectReply:
    try:
        response = await broker.request(request, subjects.DETECT_REQUEST, timeout=wait)
    except Exception as error:
        raise ApiError(503, f"no detector answered: {error}", code="UNAVAILABLE") from error
    return DetectReply.model_validate_json(response.body)
