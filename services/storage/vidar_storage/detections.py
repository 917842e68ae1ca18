"""Detection records: each posted object once, and the archive's counters equal to them.

A record and its counter move in one transaction, so a redelivered event (same id) changes
nothing and a crash between the two cannot make them disagree. Records of an older run are
dropped when a new run is queued; events of an older run that arrive late are ignored.
"""

from datetime import UTC, datetime

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from vidar import archive, indexes
from vidar.documents import CLUSTER_COUNT_FIELDS, COUNT_FIELDS, DetectionRecord, ObjectCounts
from vidar.models.jobs import DetectionPosted
from vidar.mongo import in_transaction


class DetectionRecords:
    def __init__(self, client: AsyncMongoClient, db: AsyncDatabase) -> None:
        self._client = client
        self._records = db[archive.DETECTIONS]
        self._videos = db[archive.VIDEOS]
        self._clusters = db[archive.CLUSTERS]

    async def ensure_indexes(self) -> None:
        await indexes.ensure(self._records.database, archive.DETECTIONS)

    async def record(self, detection: DetectionPosted) -> None:
        current_run = {"_id": detection.video_id, "current_run": detection.run_id}

        async def insert_and_count(session: AsyncClientSession) -> None:
            if await self._videos.find_one(current_run, projection={"_id": 1}, session=session) is None:
                return  # the archive is gone, or this run was replaced
            record = DetectionRecord(**detection.model_dump(), created_date=datetime.now(UTC))
            await self._records.insert_one(record.document(), session=session)
            await self._videos.update_one(current_run, {"$inc": ObjectCounts.one_more(detection.kind)}, session=session)

        try:
            await in_transaction(self._client, insert_and_count)
        except DuplicateKeyError:
            return  # a redelivery: recorded and counted the first time

    async def new_run(self, video_id: int, run_id: str) -> None:
        """A new run replaces the previous run's detections and clusters; its cluster counts are
        null until it has clustered."""
        older = {"video_id": video_id, "run_id": {"$ne": run_id}}

        async def replace(session: AsyncClientSession) -> None:
            await self._records.delete_many(older, session=session)
            await self._clusters.delete_many(older, session=session)
            counts = {
                counter: await self._records.count_documents({"video_id": video_id, "kind": kind}, session=session)
                for kind, counter in COUNT_FIELDS.items()
            }
            # Null, unless this run's clusters are already in (this event came late).
            for kind, counter in CLUSTER_COUNT_FIELDS.items():
                of_kind = {"video_id": video_id, "kind": kind}
                counts[counter] = await self._clusters.count_documents(of_kind, session=session) or None
            counted = ObjectCounts(**counts).as_set()
            await self._videos.update_one({"_id": video_id, "current_run": run_id}, {"$set": counted}, session=session)

        await in_transaction(self._client, replace)
