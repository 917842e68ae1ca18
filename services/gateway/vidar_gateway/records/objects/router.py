"""/objects/faces/, /objects/bodies/, /objects/cars/: photos attached to records, written by admins
and operators. POST takes FindFace's multipart form (`card`, `create_from`, `source_photo`,
`active`, `mf_selector`), read here with the photo's size cap rather than spooled whole first."""

from typing import Annotated

from fastapi import Body, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from vidar.models.detection_events import ObjectType
from vidar.models.records import ObjectCreateForm, ObjectPatch, RecordObject, RecordObjectPage
from vidar_gateway.deps import BaseUrl, RuntimeDep, api_router, json_body
from vidar_gateway.errors import ApiError
from vidar_gateway.events.present import ObjectTypePath
from vidar_gateway.params import IdParam
from vidar_gateway.records.deps import ObjectsRepo, Retro
from vidar_gateway.records.objects.sources import PHOTO, ObjectSources, Photo, checked_photo
from vidar_gateway.records.objects.store import ObjectFilters
from vidar_gateway.search.deps import SearchDep
from vidar_gateway.search.images import form_of, read_capped

router = api_router("/objects", "records")
ObjectId = Annotated[IdParam, Path(description="Object ID.")]
# An object's pictures never change: another photo is another object.
CACHE_CONTROL = "private, max-age=31536000, immutable"
_BINARY = {"type": "string", "format": "binary"}
_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    **ObjectCreateForm.model_json_schema(),
                    "properties": {**ObjectCreateForm.model_json_schema()["properties"], PHOTO: _BINARY},
                }
            }
        },
    }
}
_IMAGE: dict[int | str, dict] = {200: {"content": {"image/jpeg": {"schema": _BINARY}}, "description": "the image"}}


def present(object_type: ObjectType, doc: dict, base: str) -> RecordObject:
    url = f"{base}/objects/{object_type}/{doc['_id']}/"
    left, top, right, bottom = doc["bbox"]
    return RecordObject(
        id=str(doc["_id"]),
        card=doc["card"],
        active=doc["active"],
        created_date=doc["created_date"],
        modified_date=doc["modified_date"],
        create_from=doc.get("create_from"),
        source_photo=f"{url}source_photo/" if doc.get("source_photo_key") else None,
        source_photo_name=doc.get("source_photo_name"),
        thumbnail=f"{url}thumbnail/" if doc.get("thumbnail_key") else None,
        frame_coords_left=round(left),
        frame_coords_top=round(top),
        frame_coords_right=round(right),
        frame_coords_bottom=round(bottom),
        quality=doc["quality"],
        features=doc.get("features"),
        retro_matching=doc.get("retro_matching"),
    )


@router.get("/{object_type}/", summary="List objects")
async def list_objects(
    object_type: ObjectTypePath, query: Annotated[ObjectFilters, Query()], objects: ObjectsRepo, base: BaseUrl
) -> RecordObjectPage:
    found = await objects.page(object_type, query)
    results = [present(object_type, row, base) for row in found.rows]
    return RecordObjectPage(next_page=found.next_page, prev_page=found.prev_page, results=results)


@router.post("/{object_type}/", status_code=201, summary="Attach a photo to a record", openapi_extra=_FORM)
async def create_object(
    object_type: ObjectTypePath,
    request: Request,
    objects: ObjectsRepo,
    runtime: RuntimeDep,
    search: SearchDep,
    retro: Retro,
    base: BaseUrl,
) -> RecordObject:
    form, photo = await _read_form(request, search.settings.detect_max_bytes, search.settings.detect_max_pixels)
    await objects.check_card(object_type, form.card)
    db = runtime.mongo[runtime.settings.mongo_db]
    sources = ObjectSources(db, runtime.objects, runtime.broker, search.detections, search.settings)
    found = await sources.found(object_type, form, photo)
    doc = await objects.create(object_type, form, found)
    if doc["active"]:
        doc["retro_matching"] = await retro.start(object_type, doc["_id"])
    return present(object_type, doc, base)


@router.get("/{object_type}/{object_id}/", summary="Get an object")
async def get_object(
    object_type: ObjectTypePath, object_id: ObjectId, objects: ObjectsRepo, base: BaseUrl
) -> RecordObject:
    return present(object_type, await objects.get(object_type, object_id), base)


@router.patch("/{object_type}/{object_id}/", summary="Turn an object on or off", dependencies=[json_body])
async def patch_object(
    object_type: ObjectTypePath,
    object_id: ObjectId,
    data: Annotated[ObjectPatch, Body()],
    objects: ObjectsRepo,
    retro: Retro,
    base: BaseUrl,
) -> RecordObject:
    doc = await objects.patch(object_type, object_id, data)
    if data.active:
        doc["retro_matching"] = await retro.start(object_type, object_id)
    return present(object_type, doc, base)


@router.delete("/{object_type}/{object_id}/", status_code=204, summary="Delete an object and its photo")
async def delete_object(object_type: ObjectTypePath, object_id: ObjectId, objects: ObjectsRepo) -> Response:
    await objects.delete(object_type, object_id)
    return Response(status_code=204)


@router.get(
    "/{object_type}/{object_id}/source_photo/",
    summary="Get the photo an object was made from",
    response_class=Response,
    responses=_IMAGE,
)
async def get_source_photo(object_type: ObjectTypePath, object_id: ObjectId, objects: ObjectsRepo) -> Response:
    return _image(await objects.image(object_type, object_id, "source_photo"), object_id)


@router.get(
    "/{object_type}/{object_id}/thumbnail/",
    summary="Get an object's thumbnail",
    response_class=Response,
    responses=_IMAGE,
)
async def get_thumbnail(object_type: ObjectTypePath, object_id: ObjectId, objects: ObjectsRepo) -> Response:
    return _image(await objects.image(object_type, object_id, "thumbnail"), object_id)


def _image(found: tuple[bytes, str] | None, object_id: int) -> Response:
    if found is None:
        raise ApiError(404, f"object {object_id} has no such image", param="id")
    data, media_type = found
    return Response(data, media_type=media_type, headers={"Cache-Control": CACHE_CONTROL})


async def _read_form(request: Request, max_bytes: int, max_pixels: int) -> tuple[ObjectCreateForm, Photo | None]:
    """The form's fields, validated (a 400 names the field), and its photo, checked."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise ApiError(
            415, f"expected multipart/form-data, got {media_type or 'no content type'}", param="Content-Type"
        )
    form = await form_of(request, await read_capped(request, max_bytes, PHOTO))
    fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
    files = {name: value for name, value in form.multi_items() if isinstance(value, UploadFile)}
    if unknown := set(files) - {PHOTO}:
        raise ApiError(400, f"{unknown.pop()}: unknown parameter; the photo is {PHOTO}", param=PHOTO)
    try:
        parsed = ObjectCreateForm.model_validate(fields)
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None
    upload = files.get(PHOTO)
    if upload is None:
        return parsed, None
    data = await upload.read()
    return parsed, checked_photo(data, upload.filename, max_pixels) if data else None
