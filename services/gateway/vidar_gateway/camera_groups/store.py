"""Camera groups in MongoDB. Group 1 is the default, created at start and never deleted. A group in
use is not deleted either (409): one that video archives belong to, or one a watch list covers.
FindFace's documentation says nothing of the latter; dropping the group from the list is not done,
since a list left with no group covers every camera (as in FindFace), which would widen what the
operator chose. The 409 names the lists, to be changed first."""

from datetime import UTC, datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from vidar.archive import CAMERA_GROUPS, VIDEOS
from vidar.documents import CameraGroupRecord
from vidar.indexes import WATCH_LISTS
from vidar.models.camera_group import CameraGroupCreate, CameraGroupPatch
from vidar.models.video import ObjectId
from vidar.mongo import next_id
from vidar_gateway.errors import ApiError, not_found
from vidar_gateway.listing import with_condition
from vidar_gateway.pagination import Ordering, Page, paginate

DEFAULT_GROUP_ID = 1
# How many of the watch lists covering a group a refused delete names.
NAMED_LISTS = 5
BY_ID = Ordering(name="id", field="_id", ascending=True, key_type=ObjectId, id_type=ObjectId)


class CameraGroupStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db
        self._groups = db[CAMERA_GROUPS]
        self._videos = db[VIDEOS]

    async def ensure_default(self) -> None:
        now = datetime.now(UTC)
        try:
            await self._groups.insert_one(CameraGroupRecord.created(DEFAULT_GROUP_ID, "Default", "", now))
        except DuplicateKeyError:
            return
        # Keep the id sequence past the default group's id.
        await self._db["counters"].update_one(
            {"_id": CAMERA_GROUPS}, {"$max": {"value": DEFAULT_GROUP_ID}}, upsert=True
        )

    async def list(self, limit: int, page: str | None) -> Page:
        return await paginate(self._groups, {}, BY_ID, limit, page)

    async def get(self, group_id: int) -> dict:
        doc = await self._groups.find_one({"_id": group_id})
        if doc is None:
            raise not_found("camera group", group_id)
        return doc

    async def create(self, data: CameraGroupCreate) -> dict:
        group_id = await next_id(self._db, CAMERA_GROUPS)
        doc = CameraGroupRecord.created(group_id, data.name, data.comment, datetime.now(UTC))
        await self._groups.insert_one(doc)
        return doc

    async def patch(self, group_id: int, data: CameraGroupPatch) -> dict:
        change = CameraGroupRecord.changed(data.model_dump(exclude_unset=True), datetime.now(UTC))
        doc = await self._groups.find_one_and_update(
            {"_id": group_id},
            {"$set": change.as_set()},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise not_found("camera group", group_id)
        return doc

    async def delete(self, group_id: int) -> None:
        if group_id == DEFAULT_GROUP_ID:
            raise ApiError(409, "the default camera group cannot be deleted", param="id")
        in_use = await self._videos.count_documents({"camera_group": group_id}, limit=1)
        if in_use:
            raise ApiError(409, f"camera group {group_id} has video archives; move or delete them first", param="id")
        if named := await self._watch_lists_covering(group_id):
            raise ApiError(
                409, f"camera group {group_id} is covered by watch lists {named}; take it off them first", param="id"
            )
        result = await self._groups.delete_one({"_id": group_id})
        if result.deleted_count == 0:
            raise not_found("camera group", group_id)

    async def _watch_lists_covering(self, group_id: int) -> str:
        """A few of the watch lists that cover the group, by id ("" when none does)."""
        # Lists are few, an admin's: their ids (from 1, `vidar.mongo.next_id`) bound the read rather
        # than an index of their groups.
        covering = with_condition({"camera_groups": group_id}, "_id", {"$gte": 1})
        found = self._db[WATCH_LISTS].find(covering, projection={"_id": 1}).sort("_id", 1)
        return ", ".join([str(doc["_id"]) async for doc in found.limit(NAMED_LISTS)])
