"""POST /detect/: the faces, bodies and cars in an uploaded image, in FindFace's shape
(`{"orientation", "objects": {"face": [...], "body": [...], "car": [...]}}`), each kept for a while
(24 h by default) so that `detection:<id>` makes a record's object (`create_from`) and searches by
it (`looks_like`). The image is checked, and its objects found, as `POST /objects/` does
(`vidar_gateway.search.images`)."""

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from vidar.models.search import DetectedObjects, DetectResult
from vidar.models.stream_settings import DETECTOR_TYPES
from vidar_gateway.deps import RuntimeDep, authenticated
from vidar_gateway.errors import ERROR_RESPONSES, ApiError
from vidar_gateway.search.deps import SearchDep, search_lifespan
from vidar_gateway.search.images import IMAGE_FORMATS, checked_image, detected, form_of, read_capped

PARAM = "image"
# FindFace's name for the form's file; any one file is taken.
FORM_FILE = "photo"

# The router that brings search's parts up with the gateway (its lifespan) and serves /detect/.
router = APIRouter(
    prefix="/detect", tags=["search"], dependencies=[authenticated], responses=ERROR_RESPONSES, lifespan=search_lifespan
)
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            **{media: {"schema": {"type": "string", "format": "binary"}} for media in IMAGE_FORMATS.values()},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {FORM_FILE: {"type": "string", "format": "binary"}}}
            },
        },
    }
}


@router.post("/", summary="Find the faces, bodies and cars in an image", openapi_extra=_BODY)
async def detect(request: Request, runtime: RuntimeDep, search: SearchDep) -> DetectResult:
    settings = search.settings
    image = await _image(request, settings.detect_max_bytes)
    checked = checked_image(image, PARAM, settings.detect_max_pixels)
    found = await detected(runtime.objects, runtime.broker, image, list(DETECTOR_TYPES), settings.detect_timeout, PARAM)
    kept = await search.detections.add(sorted(found, key=lambda item: -item.quality))
    by_kind = {kind: [detection for item, detection in kept if item.kind == kind] for kind in DETECTOR_TYPES}
    return DetectResult(orientation=checked.orientation, objects=DetectedObjects.model_validate(by_kind))


async def _image(request: Request, limit: int) -> bytes:
    """The image's bytes: the body itself, or the one file of a multipart form."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in IMAGE_FORMATS.values() and media_type != "multipart/form-data":
        expected = ", ".join([*IMAGE_FORMATS.values(), "multipart/form-data"])
        raise ApiError(415, f"expected one of {expected}, got {media_type or 'no content type'}", param="Content-Type")
    body = await read_capped(request, limit, PARAM)
    if not body:
        raise ApiError(400, f"{PARAM}: the request has no image", param=PARAM)
    if media_type != "multipart/form-data":
        return body
    form = await form_of(request, body)
    files = [value for value in form.values() if isinstance(value, UploadFile)]
    if not files:
        raise ApiError(400, f"{PARAM}: the form has no file", param=PARAM)
    return await files[0].read()
