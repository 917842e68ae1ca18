"""Records of people (`human_cards`) and of vehicles (`car_cards`) in MongoDB, written by the gateway
alone. Each keeps the count of its objects of each type (`face_objects`...), changed with them."""

import re
from typing import Any

from pydantic import Field
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from vidar.indexes import BODY_OBJECTS, CAR_CARDS, CAR_OBJECTS, FACE_OBJECTS, HUMAN_CARDS
from vidar.models.detection_events import ObjectType
from vidar.models.records import OBJECT_TYPES_OF, CardCreate, CardPatch, CardType
from vidar.mongo import next_id, updated
from vidar_gateway.errors import ApiError, not_found
from vidar_gateway.listing import Ids
from vidar_gateway.pagination import Ordering, Page, paginate
from vidar_gateway.records.listing import ORDER_FIELDS, RecordPageParams, countable, stored_now
from vidar_gateway.records.revision import RecordsRevision
from vidar_gateway.records.watch_lists.store import WatchListStore

COLLECTIONS: dict[CardType, str] = {"humans": HUMAN_CARDS, "cars": CAR_CARDS}
# The field of a record that counts its objects of a type: FindFace's name, also their collection's.
COUNT_FIELDS: dict[ObjectType, str] = {
    ObjectType.FACES: FACE_OBJECTS,
    ObjectType.BODIES: BODY_OBJECTS,
    ObjectType.CARS: CAR_OBJECTS,
}
KIND_NAMES: dict[CardType, str] = {"humans": "human record", "cars": "car record"}


class CardFilters(RecordPageParams):
    """Filters combine with AND."""

    watch_lists: Ids = Field(description="on any of these watch lists")
    active: bool | None = None
    name_contains: str | None = Field(None, min_length=1, max_length=256)
    id_in: Ids

    def to_query(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if self.watch_lists:
            query["watch_lists"] = self.watch_lists[0] if len(set(self.watch_lists)) == 1 else {"$in": self.watch_lists}
        if self.id_in:
            query["_id"] = {"$in": self.id_in}
        if self.active is not None:
            query["active"] = self.active
        if self.name_contains:
            query["name"] = {"$regex": re.escape(self.name_contains), "$options": "i"}
        return query


class CardStore:
    def __init__(self, db: AsyncDatabase, watch_lists: WatchListStore) -> None:
        self._db = db
        self._watch_lists = watch_lists
        self._revision = RecordsRevision(db)

    async def page(self, card_type: CardType, query: CardFilters) -> Page:
        ordering = Ordering.parse(query.ordering, ORDER_FIELDS, int)
        return await paginate(self._cards(card_type), query.to_query(), ordering, query.limit, query.page)

    async def count(self, card_type: CardType, filters: CardFilters) -> int:
        return await self._cards(card_type).count_documents(countable(filters.to_query()))

    async def get(self, card_type: CardType, card_id: int) -> dict:
        doc = await self._cards(card_type).find_one({"_id": card_id})
        if doc is None:
            raise not_found(KIND_NAMES[card_type], card_id)
        return doc

    async def exists(self, card_type: CardType, card_id: int) -> bool:
        return await self._cards(card_type).find_one({"_id": card_id}, projection={"_id": 1}) is not None

    async def create(self, card_type: CardType, data: CardCreate) -> dict:
        await self._check_watch_lists(data.watch_lists)
        now = stored_now()
        card_id = await next_id(self._db, COLLECTIONS[card_type])
        counts = {COUNT_FIELDS[object_type]: 0 for object_type in OBJECT_TYPES_OF[card_type]}
        doc = {"_id": card_id, **data.model_dump(), **counts, "created_date": now, "modified_date": now}
        await self._cards(card_type).insert_one(doc)
        await self._revision.moved()
        return doc

    async def patch(self, card_type: CardType, card_id: int, data: CardPatch) -> dict:
        changes: dict[str, Any] = data.model_dump(exclude_unset=True)
        if "watch_lists" in changes:
            await self._check_watch_lists(changes["watch_lists"])
        changes["modified_date"] = stored_now()
        doc = await updated(self._cards(card_type), {"_id": card_id}, {"$set": changes})
        if doc is None:
            raise not_found(KIND_NAMES[card_type], card_id)
        await self._revision.moved()
        return doc

    async def delete(self, card_type: CardType, card_id: int) -> None:
        if (await self._cards(card_type).delete_one({"_id": card_id})).deleted_count == 0:
            raise not_found(KIND_NAMES[card_type], card_id)
        await self._revision.moved()

    async def count_object(self, card_type: CardType, card_id: int, object_type: ObjectType, change: int) -> bool:
        """One object more (or fewer) on the record; False when there is no such record."""
        update = {"$inc": {COUNT_FIELDS[object_type]: change}}
        return (await self._cards(card_type).update_one({"_id": card_id}, update)).matched_count == 1

    def _cards(self, card_type: CardType) -> AsyncCollection:
        return self._db[COLLECTIONS[card_type]]

    async def _check_watch_lists(self, list_ids: list[int]) -> None:
        if missing := await self._watch_lists.missing(list_ids):
            raise ApiError(400, f"watch_lists: no watch list {', '.join(map(str, missing))}", param="watch_lists")
