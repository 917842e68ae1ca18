"""A run's clusters of one kind, once storage says all its posted objects are recorded
(`video.detections.stored`): read the records, group them, publish `video.clustered`.

The embeddings travel in the detection events and storage records them. The consumer acknowledges
the event only after `video.clustered` is published, so a crash on the way clusters again on the
redelivery; the event's id (and storage, which replaces a kind's clusters) makes that harmless.
"""

import asyncio
from collections.abc import Awaitable, Callable

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, subjects
from vidar.models.clustering import DetectionsStored
from vidar.models.jobs import VideoClustered
from vidar_detector.clustering import Member, cluster, metric_of
from vidar_detector.settings import DetectorSettings

Publish = Callable[[str, BaseModel, str], Awaitable[None]]  # subject, payload, message id


class Unembedded(ValueError):
    """Records without an embedding (posted by a detector that computed none): clusters of a part
    would be wrong, so the event fails and, as a dead letter, shows on its archive."""


class RunClusters:
    def __init__(self, settings: DetectorSettings, db: AsyncDatabase, publish: Publish) -> None:
        self._settings = settings
        self._detections = db[archive.DETECTIONS]
        self._publish = publish

    async def cluster(self, stored: DetectionsStored) -> None:
        """`video.clustered` of the run's recorded objects of `stored.kind`. Records a later run
        has replaced meanwhile are gone: the clusters of the rest are then ignored by storage,
        which records only the archive's current run."""
        records = await self._records(stored)
        if unembedded := sum(1 for record in records if not record.get("embedding")):
            raise Unembedded(f"run {stored.run_id}: {unembedded} {stored.kind} detections have no embedding")
        members = [Member(r["_id"], r["embedding"], r["quality"], r["timestamp"]) for r in records]
        clusters = await asyncio.to_thread(cluster, members, self._threshold(stored.kind), metric_of(stored.kind))
        clustered = VideoClustered(video_id=stored.video_id, run_id=stored.run_id, kind=stored.kind, clusters=clusters)
        await self._publish(subjects.VIDEO_CLUSTERED, clustered, clustered.event_id)

    def _threshold(self, kind: str) -> float:
        settings = self._settings
        return settings.face_cluster_threshold if kind == "face" else settings.appearance_cluster_threshold

    async def _records(self, stored: DetectionsStored) -> list[dict]:
        run = {"video_id": stored.video_id, "run_id": stored.run_id, "kind": stored.kind}
        projection = {"embedding": 1, "quality": 1, "timestamp": 1}
        return await self._detections.find(run, projection=projection).to_list()
