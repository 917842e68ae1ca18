"""Detection records: each posted object once, and the archive's counters equal to them; and the
word that all the objects of a kind a run posted are recorded, which starts their clustering.

A record and its counter move in one transaction, so a redelivered event (same id) changes
nothing and a crash between the two cannot make them disagree. Records of an older run are
dropped when a new run is queued; events of an older run that arrive late are ignored.

A run's end says how many objects of each kind it posted (`video.detections.posted`). Whichever
comes last, that event or the record that brings the count up to it, moves the kind's
`RunClustering` state to CLUSTERING and stages `video.detections.stored` in the same transaction
(the outbox publishes it once committed): it is announced once, whatever the order of the events
and however often either is redelivered. The run's records are the objects its tracking state
posted, unless an attempt resumed without that state: the lost attempt's last posts then count
too, and the kind may be announced a few records early (those few stay without a cluster).
"""

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from vidar import archive, indexes, subjects
from vidar.documents import (
    CLUSTER_COUNT_FIELDS,
    CLUSTERING,
    COUNT_FIELDS,
    CURRENT_RUN,
    DetectionRecord,
    ObjectCounts,
    RunClustering,
)
from vidar.health import ClusteringState
from vidar.models.clustering import DetectionsStored, RunPosted
from vidar.models.events import Envelope
from vidar.models.jobs import DetectionPosted
from vidar.models.stream_settings import DetectorType
from vidar.mongo import in_transaction, updated
from vidar.outbox import Outbox, Transaction
from vidar_storage.event_counts import EventCounts


class DetectionRecords:
    def __init__(self, db: AsyncDatabase, outbox: Outbox) -> None:
        self._client = db.client
        self._outbox = outbox
        self._records = db[archive.DETECTIONS]
        self._videos = db[archive.VIDEOS]
        self._clusters = db[archive.CLUSTERS]
        self._counts = EventCounts(db)

    async def ensure_indexes(self) -> None:
        await indexes.ensure(self._records.database, archive.DETECTIONS)

    async def record(self, detection: DetectionPosted) -> None:
        current_run = {"_id": detection.video_id, CURRENT_RUN: detection.run_id}
        kind = detection.kind

        async def insert_and_count(transaction: Transaction) -> None:
            session = transaction.session
            count = {"$inc": ObjectCounts.one_more(kind)}
            video = await updated(self._videos, current_run, count, session=session, projection=_progress_of(kind))
            if video is None:
                return  # the archive is gone, or this run was replaced
            record = DetectionRecord(**_searchable(detection), created_date=datetime.now(UTC))
            # A redelivery raises DuplicateKeyError here, and the transaction (its counts too) is undone.
            document = record.document()
            await self._records.insert_one(document, session=session)
            await self._counts.one_more(document, session)
            if (detections := _completed_by_this_record(video, kind)) is not None:
                clustering = {"$set": RunClustering.reached(kind, ClusteringState.CLUSTERING)}
                await self._videos.update_one(current_run, clustering, session=session)
                await _announce(transaction, detection.video_id, detection.run_id, kind, detections)

        try:
            await self._outbox.commit(insert_and_count)
        except DuplicateKeyError:
            return  # a redelivery: recorded and counted the first time

    async def run_posted(self, posted: RunPosted) -> None:
        """Each kind of the run's posted objects is announced as stored if all are in, or else
        awaited. A kind already known (a redelivery) is left as it is."""
        current_run = {"_id": posted.video_id, CURRENT_RUN: posted.run_id}
        projection = {**dict.fromkeys(COUNT_FIELDS.values(), 1), CLUSTERING: 1}

        async def announce_or_await(transaction: Transaction) -> None:
            session = transaction.session
            video = await self._videos.find_one(current_run, projection=projection, session=session)
            if video is None:
                return  # the archive is gone, or a later run replaced this one
            known = _clustering(video)
            for kind, detections in posted.posted.items():
                if kind in known:
                    continue
                all_in = video[COUNT_FIELDS[kind]] >= detections
                state = ClusteringState.CLUSTERING if all_in else ClusteringState.WAITING_FOR_DETECTIONS
                await self._videos.update_one(
                    current_run, {"$set": RunClustering.posted(kind, detections, state)}, session=session
                )
                if all_in:
                    await _announce(transaction, posted.video_id, posted.run_id, kind, detections)

        await self._outbox.commit(announce_or_await)

    async def new_run(self, video_id: int, run_id: str) -> None:
        """A new run replaces the previous run's detections and clusters; its cluster counts are
        null until it has clustered."""
        older = {"video_id": video_id, "run_id": {"$ne": run_id}}

        async def replace(session: AsyncClientSession) -> None:
            await self._records.delete_many(older, session=session)
            await self._clusters.delete_many(older, session=session)
            records = await self._counts.recount_archive(video_id, session)
            counts: dict[str, int | None] = {COUNT_FIELDS[kind]: number for kind, number in records.items()}
            # Null, unless this run's clusters are already in (this event came late).
            for kind, counter in CLUSTER_COUNT_FIELDS.items():
                of_kind = {"video_id": video_id, "kind": kind}
                counts[counter] = await self._clusters.count_documents(of_kind, session=session) or None
            counted = ObjectCounts(**counts).as_set()
            await self._videos.update_one({"_id": video_id, "current_run": run_id}, {"$set": counted}, session=session)

        await in_transaction(self._client, replace)


async def _announce(transaction: Transaction, video_id: int, run_id: str, kind: DetectorType, detections: int) -> None:
    stored = DetectionsStored(video_id=video_id, run_id=run_id, kind=kind, detections=detections)
    await transaction.stage(Envelope(type=subjects.VIDEO_DETECTIONS_STORED, payload=stored, event_id=stored.event_id))


def _searchable(detection: DetectionPosted) -> dict[str, Any]:
    """The detection's fields, its attributes as the events' filters match them: the plate
    upper-cased, so that a plate filter in any case is one case-sensitive pattern (index-friendly)."""
    fields = detection.model_dump()
    plate = (fields.get("features") or {}).get("license_plate_number")
    if plate:
        plate["name"] = plate["name"].upper()
    return fields


def _completed_by_this_record(video: dict[str, Any], kind: DetectorType) -> int | None:
    """The number of objects of `kind` the run posted, if the archive awaited them and its count
    (this record's included) has now reached it."""
    awaited = _clustering(video).get(kind)
    if awaited and awaited["state"] == ClusteringState.WAITING_FOR_DETECTIONS:
        return awaited["detections"] if video[COUNT_FIELDS[kind]] >= awaited["detections"] else None
    return None


def _progress_of(kind: DetectorType) -> dict[str, int]:
    """The projection of a kind's count and clustering state."""
    return {COUNT_FIELDS[kind]: 1, f"{CLUSTERING}.{kind}": 1}


def _clustering(video: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The archive's `RunClustering` entries by kind."""
    return video.get("health_status", {}).get("statistic", {}).get("clustering") or {}
