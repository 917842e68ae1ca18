"""Objects in MongoDB (`face_objects`, `body_objects`, `car_objects`), written by the gateway alone,
with their photo and thumbnail in object storage under `records/<type>/<id>/`. Each keeps what
matching needs: its kind, its embedding, its record and whether it is active."""

from typing import Any

from pydantic import Field
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from vidar.models.detection_events import ObjectType
from vidar.models.records import CARD_TYPE_OF, ObjectCreateForm, ObjectPatch
from vidar.mongo import delete_returning, next_id, updated
from vidar.objectstore import ObjectStore
from vidar_gateway.errors import ApiError, not_found
from vidar_gateway.pagination import Ordering, Page, paginate
from vidar_gateway.params import IdParam
from vidar_gateway.records.cards.store import KIND_NAMES, CardStore
from vidar_gateway.records.listing import ORDER_FIELDS, RecordPageParams, stored_now
from vidar_gateway.records.objects.layout import COLLECTIONS, SOURCE_PHOTO, THUMBNAIL, image_key
from vidar_gateway.records.objects.sources import Found
from vidar_gateway.records.revision import RecordsRevision

# A list leaves out what only matching reads: a body's embedding is 1,280 numbers.
LISTED = {"embedding": 0}


class ObjectFilters(RecordPageParams):
    card: IdParam | None = Field(None, description="the objects of this record")
    active: bool | None = None

    def to_query(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if self.card is not None:
            query["card"] = self.card
        if self.active is not None:
            query["active"] = self.active
        return query


class RecordObjectStore:
    def __init__(self, db: AsyncDatabase, objects: ObjectStore, cards: CardStore) -> None:
        self._db = db
        self._objects = objects
        self._cards = cards
        self._revision = RecordsRevision(db)

    async def page(self, object_type: ObjectType, filters: ObjectFilters) -> Page:
        ordering = Ordering.parse(filters.ordering, ORDER_FIELDS, int)
        # A record has a few objects: its clause leads, rather than windows of every object's ids.
        driver = "card" if filters.card is not None else None
        collection = self._collection(object_type)
        return await paginate(collection, filters.to_query(), ordering, filters.limit, filters.page, LISTED, driver)

    async def get(self, object_type: ObjectType, object_id: int) -> dict:
        doc = await self._collection(object_type).find_one({"_id": object_id}, projection=LISTED)
        if doc is None:
            raise not_found(f"{object_type.kind} object", object_id)
        return doc

    async def check_card(self, object_type: ObjectType, card_id: int) -> None:
        card_type = CARD_TYPE_OF[object_type]
        if not await self._cards.exists(card_type, card_id):
            raise ApiError(400, f"card: no {KIND_NAMES[card_type]} {card_id}", param="card")

    async def create(self, object_type: ObjectType, form: ObjectCreateForm, found: Found) -> dict:
        object_id = await next_id(self._db, COLLECTIONS[object_type])
        photo_key = image_key(object_type, object_id, SOURCE_PHOTO) if found.photo else None
        thumbnail_key = image_key(object_type, object_id, THUMBNAIL) if found.thumbnail else None
        if found.photo is not None and photo_key is not None:
            await self._objects.put_bytes(photo_key, found.photo.data, found.photo.content_type)
        if found.thumbnail is not None and thumbnail_key is not None:
            await self._objects.put_bytes(thumbnail_key, found.thumbnail, "image/jpeg")
        now = stored_now()
        doc = {
            "_id": object_id,
            "card": form.card,
            "active": form.active,
            "kind": object_type.kind,
            "create_from": form.create_from,
            "bbox": list(found.bbox),
            "quality": found.quality,
            "features": found.features,
            "embedding": found.embedding,
            "source_photo_key": photo_key,
            "source_photo_type": found.photo.content_type if found.photo else None,
            "source_photo_name": found.photo.name if found.photo else None,
            "thumbnail_key": thumbnail_key,
            "created_date": now,
            "modified_date": now,
        }
        await self._collection(object_type).insert_one(doc)
        if not await self._cards.count_object(CARD_TYPE_OF[object_type], form.card, object_type, 1):
            # The record was deleted while the photo was read: the object goes with it.
            await self._remove(object_type, doc)
            raise ApiError(400, f"card: no {KIND_NAMES[CARD_TYPE_OF[object_type]]} {form.card}", param="card")
        await self._revision.moved()
        doc.pop("embedding")
        return doc

    async def patch(self, object_type: ObjectType, object_id: int, data: ObjectPatch) -> dict:
        change = {"$set": {**data.model_dump(), "modified_date": stored_now()}}
        doc = await updated(self._collection(object_type), {"_id": object_id}, change, projection=LISTED)
        if doc is None:
            raise not_found(f"{object_type.kind} object", object_id)
        await self._revision.moved()
        return doc

    async def delete(self, object_type: ObjectType, object_id: int) -> None:
        doc = await delete_returning(self._collection(object_type), {"_id": object_id})
        if doc is None:
            raise not_found(f"{object_type.kind} object", object_id)
        await self._remove_images(doc)
        await self._cards.count_object(CARD_TYPE_OF[object_type], doc["card"], object_type, -1)
        await self._revision.moved()

    async def delete_of_card(self, object_type: ObjectType, card_id: int) -> None:
        """Every object of a record that is gone."""
        collection = self._collection(object_type)
        async for doc in collection.find({"card": card_id}, projection=LISTED):
            await self._remove(object_type, doc)

    async def image(self, object_type: ObjectType, object_id: int, field: str) -> tuple[bytes, str] | None:
        """The object's photo or thumbnail and its media type; None when it has none."""
        doc = await self.get(object_type, object_id)
        key = doc.get(f"{field}_key")
        if not key:
            return None
        data = await self._objects.get_bytes(key)
        media_type = doc.get("source_photo_type") if field == "source_photo" else "image/jpeg"
        return None if data is None else (data, media_type or "application/octet-stream")

    async def _remove(self, object_type: ObjectType, doc: dict) -> None:
        await self._collection(object_type).delete_one({"_id": doc["_id"]})
        await self._remove_images(doc)

    async def _remove_images(self, doc: dict) -> None:
        for key in (doc.get("source_photo_key"), doc.get("thumbnail_key")):
            if key:
                await self._objects.remove(key)

    def _collection(self, object_type: ObjectType) -> AsyncCollection:
        return self._db[COLLECTIONS[object_type]]
