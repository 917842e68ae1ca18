"""Where a new object's embedding and pictures come from (`create_from`):

- nothing: the one object of its kind in `source_photo`, found and embedded by a detector as
  `POST /detect/` does (zero, or several with `mf_selector=reject`, is a 400 naming source_photo);
- `detection:<id>`: a `POST /detect/` result, with the image it was found in as `source_photo`;
- `faceevent:<id>`, `bodyevent:<id>`, `carevent:<id>`: a stored event's embedding, its full frame as
  the photo and its thumbnail (no `source_photo`);
- `faceobject:<id>`, `bodyobject:<id>`, `carobject:<id>`: another object as a template, its photo
  copied (no `source_photo`).
"""

import asyncio
import io
import re
from dataclasses import dataclass
from typing import Any

from faststream.nats import NatsBroker
from PIL import Image, ImageOps
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive
from vidar.models.detection_events import ObjectType
from vidar.models.records import ObjectCreateForm
from vidar.models.search import DetectedObject
from vidar.models.stream_settings import DetectorType
from vidar.objectstore import ObjectStore
from vidar_gateway.errors import ApiError
from vidar_gateway.records.objects.layout import COLLECTIONS
from vidar_gateway.search.detections import DetectionStore
from vidar_gateway.search.images import checked_image, detected
from vidar_gateway.search.index import DIMENSIONS
from vidar_gateway.search.settings import SearchSettings

PHOTO = "source_photo"
CREATE_FROM = "create_from"
_CREATE_FROM = re.compile(r"(detection|(?:face|body|car)(?:event|object)):([A-Za-z0-9_.-]{1,256})")
THUMBNAIL_QUALITY = 90


@dataclass(frozen=True)
class Photo:
    data: bytes
    content_type: str
    name: str | None


@dataclass(frozen=True)
class Found:
    """What a new object is made of."""

    embedding: list[float]
    bbox: tuple[float, float, float, float]
    quality: float
    features: dict[str, Any] | None
    photo: Photo | None
    thumbnail: bytes | None


def checked_photo(data: bytes, name: str | None, max_pixels: int) -> Photo:
    """A JPEG, PNG or WebP of at most `max_pixels`, checked as `POST /detect/` checks its image."""
    return Photo(data, checked_image(data, PHOTO, max_pixels).media_type, name)


def thumbnail_of(photo: bytes, bbox: tuple[float, float, float, float]) -> bytes:
    """The object cut out of its photo as a JPEG, turned upright first as the detector reads it
    (OpenCV's decoder applies the EXIF orientation, and the box is in that picture)."""
    with Image.open(io.BytesIO(photo)) as opened:
        upright = ImageOps.exif_transpose(opened)
        left, top, right, bottom = (round(value) for value in bbox)
        box = (max(left, 0), max(top, 0), min(right, upright.width), min(bottom, upright.height))
        out = io.BytesIO()
        upright.crop(box).convert("RGB").save(out, format="JPEG", quality=THUMBNAIL_QUALITY)
        return out.getvalue()


class ObjectSources:
    def __init__(
        self,
        db: AsyncDatabase,
        objects: ObjectStore,
        broker: NatsBroker,
        detections: DetectionStore,
        settings: SearchSettings,
    ) -> None:
        self._db = db
        self._events = db[archive.DETECTIONS]
        self._objects = objects
        self._broker = broker
        self._detections = detections
        self._settings = settings

    async def found(self, object_type: ObjectType, form: ObjectCreateForm, photo: Photo | None) -> Found:
        kind = object_type.kind
        if form.create_from is None:
            if photo is None:
                raise ApiError(400, f"{PHOTO}: a photo is needed without {CREATE_FROM}", param=PHOTO)
            return await self._from_photo(photo, kind, form.mf_selector)
        match = _CREATE_FROM.fullmatch(form.create_from)
        if match is None:
            expected = f"detection:<id>, {kind}event:<id> or {kind}object:<id>"
            raise ApiError(400, f"{CREATE_FROM}: should be {expected}", param=CREATE_FROM)
        source, source_id = match.groups()
        if source == "detection":
            if photo is None:
                raise ApiError(400, f"{PHOTO}: send the image of {form.create_from} as {PHOTO}", param=PHOTO)
            return await self._from_detection(source_id, photo, kind)
        if photo is not None:
            raise ApiError(400, f"{PHOTO}: must be empty with {CREATE_FROM}={source}:", param=PHOTO)
        if source not in (f"{kind}event", f"{kind}object"):
            raise ApiError(400, f"{CREATE_FROM}: a {source} cannot make a {kind} object", param=CREATE_FROM)
        if source.endswith("object"):
            return await self._from_object(source_id, object_type)
        return await self._from_event(source_id, kind)

    async def _from_photo(self, photo: Photo, kind: DetectorType, mf_selector: str) -> Found:
        wait = self._settings.detect_timeout
        found = [
            item
            for item in await detected(self._objects, self._broker, photo.data, [kind], wait, PHOTO)
            if item.kind == kind
        ]
        if not found:
            raise ApiError(400, f"{PHOTO}: no {kind} found in the photo", param=PHOTO)
        if len(found) > 1 and mf_selector == "reject":
            raise ApiError(
                400, f"{PHOTO}: {len(found)} {kind}s in the photo; send one, or mf_selector=biggest", param=PHOTO
            )
        return await self._made_of(max(found, key=_area), photo)

    async def _from_detection(self, detection_id: str, photo: Photo, kind: DetectorType) -> Found:
        detection = await self._detections.get(detection_id)
        if detection is None:
            raise ApiError(400, f"{CREATE_FROM}: detection {detection_id} is unknown or expired", param=CREATE_FROM)
        if detection.kind != kind:
            raise ApiError(400, f"{CREATE_FROM}: detection {detection_id} is a {detection.kind}", param=CREATE_FROM)
        return await self._made_of(detection, photo)

    async def _made_of(self, item: DetectedObject, photo: Photo) -> Found:
        thumbnail = await asyncio.to_thread(thumbnail_of, photo.data, item.bbox)
        features = item.features.model_dump(mode="json") if item.features else None
        return Found(_embedding(item.embedding, item.kind), item.bbox, item.quality, features, photo, thumbnail)

    async def _from_event(self, event_id: str, kind: DetectorType) -> Found:
        fields = ("embedding", "bbox", "quality", "features", "thumbnail_key", "full_frame_key", "video_id")
        event = await self._events.find_one({"_id": event_id, "kind": kind}, projection=dict.fromkeys(fields, 1))
        if event is None:
            raise ApiError(400, f"{CREATE_FROM}: {kind} event {event_id} does not exist", param=CREATE_FROM)
        frame_key = _own_key(event, "full_frame_key")
        frame = await self._objects.get_bytes(frame_key) if frame_key else None
        thumbnail_key = _own_key(event, "thumbnail_key")
        thumbnail = await self._objects.get_bytes(thumbnail_key) if thumbnail_key else None
        photo = None if frame is None or frame_key is None else Photo(frame, _media_type(frame_key), None)
        return Found(
            _embedding(event.get("embedding"), kind),
            _box(event["bbox"]),
            event["quality"],
            event.get("features"),
            photo,
            thumbnail,
        )

    async def _from_object(self, source_id: str, object_type: ObjectType) -> Found:
        template = None
        if source_id.isdigit() and len(source_id) < 16:
            template = await self._db[COLLECTIONS[object_type]].find_one({"_id": int(source_id)})
        if template is None:
            missing = f"{CREATE_FROM}: {object_type.kind} object {source_id} does not exist"
            raise ApiError(400, missing, param=CREATE_FROM)
        photo_key, thumbnail_key = template.get("source_photo_key"), template.get("thumbnail_key")
        photo = await self._objects.get_bytes(photo_key) if photo_key else None
        return Found(
            _embedding(template.get("embedding"), object_type.kind),
            _box(template["bbox"]),
            template["quality"],
            template.get("features"),
            None if photo is None else Photo(photo, template["source_photo_type"], template.get("source_photo_name")),
            await self._objects.get_bytes(thumbnail_key) if thumbnail_key else None,
        )


def _box(values: list[float]) -> tuple[float, float, float, float]:
    left, top, right, bottom = values
    return left, top, right, bottom


def _area(item: DetectedObject) -> float:
    left, top, right, bottom = item.bbox
    return (right - left) * (bottom - top)


def _embedding(embedding: list[float] | None, kind: DetectorType) -> list[float]:
    if embedding is None or len(embedding) != DIMENSIONS[kind]:
        raise ApiError(400, f"{CREATE_FROM}: the source has no {kind} embedding to match by", param=CREATE_FROM)
    return embedding


def _own_key(event: dict, field: str) -> str | None:
    """The event's image key if it lies under its own archive's detections (stored data is checked
    before it is read)."""
    key, video_id = event.get(field), event.get("video_id")
    if (
        isinstance(key, str)
        and isinstance(video_id, int)
        and archive.is_under(key, archive.detections_prefix(video_id))
    ):
        return key
    return None


def _media_type(key: str) -> str:
    return "image/png" if key.endswith(".png") else "image/jpeg"
