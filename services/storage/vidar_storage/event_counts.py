"""The kept counts of detection events (`vidar.event_counts`), changed in the transaction of the
write that changes the events: a record (one more), a match (one more matched), a new run (the
archive's older events out) and a deleted archive (all of its events out)."""

import logging
from collections import Counter, defaultdict
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, event_counts
from vidar.models.stream_settings import DetectorType
from vidar.mongo import delete_returning

logger = logging.getLogger(__name__)

# What a recount reads of each record.
_COUNTED_FIELDS = {"features": 1, "camera_group": 1, "matched": 1, "created_date": 1, "timestamp": 1}
# The document that says which version of the counts the collection holds: a database whose events
# were recorded before the counts were kept (or with another version of them) is counted once.
_VERSION_ID = "version"
COUNTS_VERSION = 1
_WRITE_BATCH = 1000


class EventCounts:
    def __init__(self, db: AsyncDatabase) -> None:
        self._counts = db[event_counts.EVENT_COUNTS]
        self._records = db[archive.DETECTIONS]

    async def ensure(self) -> None:
        """The counts made from every record, once, at start, before any event is consumed, where
        the collection does not hold this version of them: counts begun on a database that already
        held events would leave those out, and a walk oldest first would start past them."""
        marker = await self._counts.find_one({"_id": _VERSION_ID})
        if marker is not None and marker.get("version") == COUNTS_VERSION:
            return
        counted = await self._count_every_record()
        await self._counts.delete_many({})
        writes = [ReplaceOne({"_id": counter}, document, upsert=True) for counter, document in counted.items()]
        for first in range(0, len(writes), _WRITE_BATCH):
            await self._counts.bulk_write(writes[first : first + _WRITE_BATCH], ordered=False)
        await self._counts.replace_one({"_id": _VERSION_ID}, {"version": COUNTS_VERSION}, upsert=True)
        logger.info("event counts made from the records: %d counters", len(counted))

    async def _count_every_record(self) -> dict[str, dict[str, Any]]:
        """Each scope's and kind's counter document, as `one_more` would have kept it."""
        counted: dict[str, dict[str, Any]] = defaultdict(lambda: {event_counts.TOTAL: 0})
        projection = {**_COUNTED_FIELDS, "kind": 1, "video_id": 1}
        async for record in self._records.find({}, projection=projection):
            kind: DetectorType = record["kind"]
            for counter in event_counts.counter_ids(kind, record["video_id"], record["camera_group"]):
                _count_into(counted[counter], kind, record)
            own = event_counts.counter_id(event_counts.archive_scope(record["video_id"]), kind)
            counted[own][event_counts.CAMERA_GROUP] = record["camera_group"]
        return counted

    async def one_more(self, record: dict[str, Any], session: AsyncClientSession, *, matched: bool = False) -> None:
        """Count a record just written; with `matched`, only its first match."""
        kind: DetectorType = record["kind"]
        if matched:
            update: dict[str, Any] = {"$inc": {event_counts.MATCHED: 1}}
        else:
            update = {"$inc": event_counts.one_event(kind, record.get("features")), **event_counts.span_of(record)}
        await self._add(kind, record["video_id"], record["camera_group"], update, session)

    async def recount_archive(self, video_id: int, session: AsyncClientSession) -> dict[DetectorType, int]:
        """The archive's counts made equal to its records (after its older runs' are deleted: the
        current run's early records, usually none), every scope changed by the difference; the
        number of records of each kind."""
        totals: dict[DetectorType, int] = {}
        for kind in event_counts.COUNTED_ATTRIBUTES:
            await self._take_out(video_id, kind, session)
            of_kind = {"video_id": video_id, "kind": kind}
            records = await self._records.find(of_kind, projection=_COUNTED_FIELDS, session=session).to_list()
            for record in records:
                await self.one_more({**record, **of_kind}, session)
                if record.get("matched"):
                    await self.one_more({**record, **of_kind}, session, matched=True)
            totals[kind] = len(records)
        return totals

    async def remove_archive(self, video_id: int) -> None:
        """Every scope without the archive's events, once they are deleted with it (a redelivery
        finds its own count gone and changes nothing)."""
        for kind in event_counts.COUNTED_ATTRIBUTES:
            await self._take_out(video_id, kind, None)

    async def _take_out(self, video_id: int, kind: DetectorType, session: AsyncClientSession | None) -> None:
        """The archive's kept counts of a kind out of every scope, and its own document gone."""
        own = event_counts.counter_id(event_counts.archive_scope(video_id), kind)
        kept = await delete_returning(self._counts, {"_id": own}, session=session)
        if kept is None:
            return
        change = Counter({event_counts.TOTAL: kept.get(event_counts.TOTAL, 0)})
        change[event_counts.MATCHED] = kept.get(event_counts.MATCHED, 0)
        for key, number in kept.get(event_counts.COMBINATIONS, {}).items():
            change[f"{event_counts.COMBINATIONS}.{key}"] = number
        negative = {path: -number for path, number in change.items() if number}
        scopes = (event_counts.EVERY_ARCHIVE, event_counts.camera_group_scope(kept[event_counts.CAMERA_GROUP]))
        for scope in scopes:
            if negative:
                counter = {"_id": event_counts.counter_id(scope, kind)}
                await self._counts.update_one(counter, {"$inc": negative}, session=session)

    async def _add(
        self, kind: DetectorType, video_id: int, camera_group: int, update: dict[str, Any], session: AsyncClientSession
    ) -> None:
        own = event_counts.counter_id(event_counts.archive_scope(video_id), kind)
        for counter in event_counts.counter_ids(kind, video_id, camera_group):
            # The archive's own names the camera group whose count its events are in, to take them out of it.
            named = {**update, "$set": {event_counts.CAMERA_GROUP: camera_group}} if counter == own else update
            await self._counts.update_one({"_id": counter}, named, upsert=True, session=session)


def _count_into(document: dict[str, Any], kind: DetectorType, record: dict[str, Any]) -> None:
    """One record counted into a counter document being made (`ensure`)."""
    document[event_counts.TOTAL] += 1
    if record.get("matched"):
        document[event_counts.MATCHED] = document.get(event_counts.MATCHED, 0) + 1
    combinations = document.setdefault(event_counts.COMBINATIONS, {})
    key = event_counts.combination(kind, record.get("features"))
    combinations[key] = combinations.get(key, 0) + 1
    for field, value, pick in (
        (event_counts.OLDEST_CREATED, record["created_date"], min),
        (event_counts.FIRST_TIMESTAMP, record["timestamp"], min),
        (event_counts.LAST_TIMESTAMP, record["timestamp"], max),
    ):
        document[field] = value if field not in document else pick(document[field], value)
