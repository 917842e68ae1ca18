"""Watch lists in MongoDB, written by the gateway alone. A list that records are on is not deleted
(409), as FindFace asks for its records to be deleted first; an empty `camera_groups` covers them
all, and a null threshold is the system's default for its kind (`VIDAR_SEARCH_*_THRESHOLD`)."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from vidar.archive import CAMERA_GROUPS
from vidar.indexes import CARD_COLLECTIONS, WATCH_LISTS
from vidar.models.records import WatchListCreate, WatchListPatch
from vidar.mongo import next_id, updated
from vidar_gateway.errors import ApiError, not_found
from vidar_gateway.pagination import Ordering, Page, paginate
from vidar_gateway.records.listing import ORDER_FIELDS, RecordPageParams, countable, stored_now
from vidar_gateway.records.revision import RecordsRevision

# How many of the records on a list a refused delete names.
NAMED_RECORDS = 5


class WatchListStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db
        self._lists = db[WATCH_LISTS]
        self._revision = RecordsRevision(db)

    async def page(self, query: RecordPageParams) -> Page:
        ordering = Ordering.parse(query.ordering, ORDER_FIELDS, int)
        return await paginate(self._lists, {}, ordering, query.limit, query.page)

    async def count(self) -> int:
        return await self._lists.count_documents(countable({}))

    async def get(self, list_id: int) -> dict:
        doc = await self._lists.find_one({"_id": list_id})
        if doc is None:
            raise not_found("watch list", list_id)
        return doc

    async def create(self, data: WatchListCreate) -> dict:
        await self._check_camera_groups(data.camera_groups)
        now = stored_now()
        doc = {
            "_id": await next_id(self._db, WATCH_LISTS),
            **data.model_dump(),
            "created_date": now,
            "modified_date": now,
        }
        await self._lists.insert_one(doc)
        await self._revision.moved()
        return doc

    async def patch(self, list_id: int, data: WatchListPatch) -> dict:
        changes: dict[str, Any] = data.model_dump(exclude_unset=True)
        await self._check_camera_groups(changes.get("camera_groups", []))
        changes["modified_date"] = stored_now()
        doc = await updated(self._lists, {"_id": list_id}, {"$set": changes})
        if doc is None:
            raise not_found("watch list", list_id)
        await self._revision.moved()
        return doc

    async def delete(self, list_id: int) -> None:
        if on_it := await self._records_on(list_id):
            raise ApiError(
                409,
                f"watch list {list_id} has records ({', '.join(on_it)}); delete them or take the list off them first",
                param="id",
            )
        if (await self._lists.delete_one({"_id": list_id})).deleted_count == 0:
            raise not_found("watch list", list_id)
        await self._revision.moved()

    async def missing(self, list_ids: list[int]) -> list[int]:
        """Which of `list_ids` name no watch list."""
        found = {doc["_id"] async for doc in self._lists.find({"_id": {"$in": list_ids}}, projection={"_id": 1})}
        return sorted(set(list_ids) - found)

    async def _records_on(self, list_id: int) -> list[str]:
        """A few of the records on the list, named `<type> <id>`."""
        named = []
        for collection in CARD_COLLECTIONS:
            found = self._db[collection].find({"watch_lists": list_id}, projection={"_id": 1}).sort("_id", 1)
            named += [
                f"{collection.removesuffix('_cards')} record {doc['_id']}" async for doc in found.limit(NAMED_RECORDS)
            ]
        return named[:NAMED_RECORDS]

    async def _check_camera_groups(self, group_ids: list[int]) -> None:
        if not group_ids:
            return
        found = {doc["_id"] async for doc in self._db[CAMERA_GROUPS].find({"_id": {"$in": group_ids}}, {"_id": 1})}
        if missing := sorted(set(group_ids) - found):
            raise ApiError(400, f"camera_groups: no camera group {', '.join(map(str, missing))}", param="camera_groups")
