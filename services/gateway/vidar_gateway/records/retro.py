"""Retroactive matching: an object made (or turned on), a record put on a list or turned on, or a
list turned on or widened (camera groups, thresholds), after archives were processed, is matched
against the events already stored.

It is a looks_like search of the object's embedding over the search index (whichever engine:
`VectorIndex`), at the lowest threshold of the record's active lists, then a walk of the hits in
pages of `PAGE`, most alike first, reading their records from `detections`: a hit whose archive's
camera group one of the lists covers, at a confidence its threshold passes, and better than the
event's current match, is published as a `match.<kind>` (`retroactive`), the same event live
matching publishes, which the storage service keeps the same way. At most `CAP` hits are walked
(the most alike). It runs in the background of the replica that took the request, one object at
a time; its progress is on the object, `retro_matching: {status, checked, matched}` (running,
done or failed). A replica that stops meanwhile leaves it `running`: turning the object off and
on again starts it over.

An event posted while a retroactive matching starts is matched live (the record index is loaded
again with the object's revision) or found here, unless its record was stored after this search
read the index while its live matching had taken it before the revision moved: a window of one
batch of live matching.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from faststream.nats import NatsBroker
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive
from vidar.models.detection_events import ObjectType
from vidar.models.records import OBJECT_TYPES_OF
from vidar_gateway.records.cards.store import COLLECTIONS as CARD_COLLECTIONS
from vidar_gateway.records.index import ListRule, Match
from vidar_gateway.records.matching import RecordIndexes, matched, publish
from vidar_gateway.records.objects.layout import COLLECTIONS
from vidar_gateway.search.index import VectorIndex
from vidar_gateway.search.ranked import Ranked

log = logging.getLogger(__name__)

# The most alike stored events a retroactive matching walks, and how many it reads at a time.
CAP = 10_000
PAGE = 500
# The records (the first by id) whose objects a change of their list matches again.
CARDS_PER_LIST = 1_000
EVENT_FIELDS = {"video_id": 1, "run_id": 1, "camera_group": 1, "kind": 1, "confidence": 1}


@dataclass(frozen=True)
class ListChanged:
    list_id: int


class RetroMatching:
    def __init__(
        self,
        db: AsyncDatabase,
        indexes: RecordIndexes,
        events_index: Callable[[], VectorIndex],
        broker: NatsBroker,
    ) -> None:
        self._db = db
        self._indexes = indexes
        self._events_index = events_index
        self._broker = broker
        self._queue: asyncio.Queue[tuple[ObjectType, int] | ListChanged] = asyncio.Queue()

    async def start(self, object_type: ObjectType, object_id: int) -> dict[str, Any]:
        """Queued: its progress, returned, reads `queued` until it runs."""
        progress = await self._progress(object_type, object_id, "queued", 0, 0)
        self._queue.put_nowait((object_type, object_id))
        return progress

    async def start_of_card(self, object_types: tuple[ObjectType, ...], card_id: int) -> None:
        """Every active object of a record that may match more than before."""
        for object_type in object_types:
            found = self._db[COLLECTIONS[object_type]].find({"card": card_id}, projection={"active": 1})
            for doc in await found.to_list():
                if doc.get("active"):
                    await self.start(object_type, doc["_id"])

    def start_of_list(self, list_id: int) -> None:
        """The objects of the list's records, found in the background (a list may hold thousands)."""
        self._queue.put_nowait(ListChanged(list_id))

    async def run(self) -> None:
        while True:
            job = await self._queue.get()
            if isinstance(job, ListChanged):
                try:
                    await self._start_of_records_on(job.list_id)
                except Exception:
                    log.exception("the records of watch list %d could not be matched again", job.list_id)
                continue
            object_type, object_id = job
            try:
                await self._match(object_type, object_id)
            except Exception:
                log.exception("retroactive matching of %s object %d failed", object_type.kind, object_id)
                with contextlib.suppress(Exception):
                    await self._db[COLLECTIONS[object_type]].update_one(
                        {"_id": object_id}, {"$set": {"retro_matching.status": "failed"}}
                    )

    async def _start_of_records_on(self, list_id: int) -> None:
        for card_type, collection in CARD_COLLECTIONS.items():
            found = self._db[collection].find({"watch_lists": list_id}, projection={"active": 1}).sort("_id", 1)
            for card in await found.limit(CARDS_PER_LIST).to_list():
                if card.get("active"):
                    await self.start_of_card(OBJECT_TYPES_OF[card_type], card["_id"])

    async def _match(self, object_type: ObjectType, object_id: int) -> None:
        kind = object_type.kind
        doc = await self._db[COLLECTIONS[object_type]].find_one(
            {"_id": object_id}, projection={"card": 1, "active": 1, "embedding": 1}
        )
        index = await self._indexes.current()
        lists = index.lists_of(kind, doc["card"]) if doc and doc.get("active") else []
        if doc is None or not lists or doc.get("embedding") is None:
            await self._progress(object_type, object_id, "done", 0, 0)
            return
        await self._progress(object_type, object_id, "running", 0, 0)
        vector = np.asarray(doc["embedding"], np.float32)
        lowest = min(rule.thresholds[kind] for rule in lists)
        hits = (await self._events_index().search(kind, vector, lowest, None))[:CAP]
        checked = better = 0
        for start in range(0, len(hits), PAGE):
            page = hits[start : start + PAGE]
            better += await self._match_page(page, doc["card"], str(object_id), lists)
            checked += len(page)
            await self._progress(object_type, object_id, "running", checked, better)
        await self._progress(object_type, object_id, "done", checked, better)

    async def _match_page(self, page: list[Ranked], card: int, object_id: str, lists: list[ListRule]) -> int:
        """Publishes the page's better matches; how many."""
        found = self._db[archive.DETECTIONS].find({"_id": {"$in": [hit.id for hit in page]}}, projection=EVENT_FIELDS)
        events = {doc["_id"]: doc for doc in await found.to_list()}
        published = 0
        for hit in page:
            event = events.get(hit.id)
            if event is None or hit.confidence <= event.get("confidence", -1.0):
                continue  # not stored (any more), or as well matched already
            passed = [
                rule.id
                for rule in lists
                if rule.covers(event["camera_group"]) and hit.confidence >= rule.thresholds[event["kind"]]
            ]
            if passed:
                match = Match(card, object_id, passed, hit.confidence)
                fields = {field: event[field] for field in ("video_id", "run_id", "camera_group", "kind")}
                await publish(self._broker, matched(match, event_id=event["_id"], retroactive=True, **fields))
                published += 1
        return published

    async def _progress(
        self, object_type: ObjectType, object_id: int, status: str, checked: int, matched: int
    ) -> dict[str, Any]:
        progress = {"status": status, "checked": checked, "matched": matched}
        await self._db[COLLECTIONS[object_type]].update_one({"_id": object_id}, {"$set": {"retro_matching": progress}})
        return progress


@contextlib.asynccontextmanager
async def retro_matching(retro: RetroMatching) -> AsyncIterator[None]:
    task = asyncio.create_task(retro.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
