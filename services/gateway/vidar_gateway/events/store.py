"""Detection events, read from the records the storage service writes (`detections`)."""

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from vidar.archive import DETECTIONS
from vidar_gateway.errors import not_found
from vidar_gateway.events.filters import ORDER_FIELDS, EventFilters, EventListQuery
from vidar_gateway.pagination import Ordering, Page, TextId, paginate

# Each ordering, and each filter that narrows a scan, has its index; every query names the kind.
# Within an archive each ordering has its own, and a cluster's members are ordered by quality:
# SecantusDB plans equalities followed by one range only on an index with exactly those fields
# first, and MongoDB reads such an index in the page's order without a sort.
_ORDERED_BY = ("created_date", "quality", "timestamp")
INDEXES = [
    *([("kind", ASCENDING), (field, ASCENDING), ("_id", ASCENDING)] for field in _ORDERED_BY),
    *([("video_id", ASCENDING), ("kind", ASCENDING), (field, ASCENDING), ("_id", ASCENDING)] for field in _ORDERED_BY),
    [("video_id", ASCENDING), ("kind", ASCENDING), ("track_id", ASCENDING)],
    [(field, ASCENDING) for field in ("video_id", "kind", "cluster", "quality", "_id")],
    [("camera_group", ASCENDING), ("kind", ASCENDING), ("_id", ASCENDING)],
]
# The embedding is vidar's own (clustering), never part of the API; the history is not shown.
HIDDEN = {"embedding": 0, "history": 0}


class EventStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._events = db[DETECTIONS]

    async def ensure_indexes(self) -> None:
        for keys in INDEXES:
            await self._events.create_index(keys)

    async def get(self, kind: str, event_id: str) -> dict:
        doc = await self._events.find_one({"_id": event_id, "kind": kind}, projection=HIDDEN)
        if doc is None:
            raise not_found(f"{kind} event", event_id)
        return doc

    async def by_ids(self, kind: str, event_ids: list[str]) -> dict[str, dict]:
        if not event_ids:
            return {}
        found = self._events.find({"_id": {"$in": event_ids}, "kind": kind}, projection=HIDDEN)
        return {doc["_id"]: doc async for doc in found}

    async def list(self, kind: str, query: EventListQuery, zone: Any, now: datetime) -> Page:
        ordering = Ordering.parse(query.ordering, ORDER_FIELDS, TextId)
        mongo_query = query.to_query(kind, zone, now)
        return await paginate(self._events, mongo_query, ordering, query.limit, query.page, projection=HIDDEN)

    async def count(self, kind: str, filters: EventFilters, zone: Any, now: datetime) -> int:
        return await self._events.count_documents(filters.to_query(kind, zone, now))
