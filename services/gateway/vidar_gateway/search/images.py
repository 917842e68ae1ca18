"""What `POST /detect/` and `POST /objects/<type>/` share about the image they take: its size capped
while it is read, its format and pixels checked by its header, and the objects a detector finds in it.

The models run in a detector (the gateway imports none): the image goes to object storage, a
detector replica is asked for its objects over NATS request-reply (an image may exceed a NATS
message's 1 MB), and the object is removed once it has answered.
"""

import io
import struct
import warnings
from dataclasses import dataclass

from faststream.nats import NatsBroker
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import FormData
from starlette.requests import Request

from vidar import archive, subjects
from vidar.models.search import DetectedObject, DetectReply, DetectRequest
from vidar.models.stream_settings import DetectorType
from vidar.objectstore import ObjectStore
from vidar_gateway.errors import ApiError

# FindFace's set; Pillow reads their headers without decoding the pixels.
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# The EXIF tag that says how a photo is turned; 1 (upright) where it has none.
EXIF_ORIENTATION = 0x0112
UPRIGHT = 1


@dataclass(frozen=True)
class CheckedImage:
    media_type: str
    orientation: int


async def read_capped(request: Request, limit: int, param: str) -> bytes:
    """The request's body, refused (413) as soon as it is over `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, param)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit, param)
    return bytes(body)


async def form_of(request: Request, body: bytes) -> FormData:
    """The multipart form in `body`, read already (and capped) from `request`."""

    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    return await Request(request.scope, replay).form(max_files=1, max_fields=10)


def checked_image(data: bytes, param: str, max_pixels: int) -> CheckedImage:
    """A JPEG, PNG or WebP of at most `max_pixels`, by its header (a small file may decode huge)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS)) as opened:
                width, height, image_format = *opened.size, opened.format
                raw_exif = opened.info.get("exif")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow refuses, by its header, an image over its own limit (about 89 M pixels) before
        # saying its size: too many pixels all the same, the 413 the README promises, not a 400.
        raise _too_many_pixels(param, f"more than {Image.MAX_IMAGE_PIXELS}", max_pixels) from None
    except (UnidentifiedImageError, OSError):
        raise ApiError(400, f"{param}: not a JPEG, PNG or WebP image", param=param) from None
    if width * height > max_pixels:
        raise _too_many_pixels(param, f"{width}x{height}", max_pixels)
    return CheckedImage(IMAGE_FORMATS[str(image_format)], _orientation(raw_exif))


def _orientation(raw_exif: bytes | None) -> int:
    """The EXIF orientation that the header carries. Read from the header's bytes, since Pillow's
    `getexif` decodes a PNG's pixels to look for it after them; an unreadable one is upright, as
    the detector takes it."""
    if not raw_exif:
        return UPRIGHT
    exif = Image.Exif()
    try:
        exif.load(raw_exif)
    except (OSError, ValueError, SyntaxError, struct.error):
        return UPRIGHT
    orientation = exif.get(EXIF_ORIENTATION, UPRIGHT)
    return orientation if orientation in range(1, 9) else UPRIGHT


async def detected(
    objects: ObjectStore, broker: NatsBroker, image: bytes, kinds: list[DetectorType], wait: float, param: str
) -> list[DetectedObject]:
    """The objects of `kinds` a detector finds in the image, or an ApiError: 503 when no detector
    could run its models, 400 (naming `param`) when it could not read the image."""
    key = archive.detect_upload_key()
    await objects.put_bytes(key, image, "application/octet-stream")
    try:
        response = await broker.request(
            DetectRequest(image_key=key, kinds=kinds), subjects.DETECT_REQUEST, timeout=wait
        )
    except Exception as error:
        raise ApiError(503, f"no detector answered: {error}", code="UNAVAILABLE") from error
    finally:
        await objects.remove(key)
    reply = DetectReply.model_validate_json(response.body)
    if reply.failure:
        raise ApiError(503, f"the detector could not run its models: {reply.failure}", code="UNAVAILABLE")
    if reply.error:
        raise ApiError(400, f"{param}: {reply.error}", param=param)
    return reply.objects


def _too_many_pixels(param: str, size: str, max_pixels: int) -> ApiError:
    return ApiError(413, f"{param}: {size} is more than {max_pixels} pixels", param=param)


def _too_large(limit: int, param: str) -> ApiError:
    return ApiError(413, f"{param}: the request is larger than {limit} bytes", param=param)
