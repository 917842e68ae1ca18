"""The end of a run: cluster its posted objects of each kind and publish `video.clustered`.

The embeddings travel in the detection events and the storage service records them; the run
waits (bounded) until every object it posted is recorded, so the clusters cover all of them.
A kind whose records do not all arrive in time, or that has records without an embedding, is not
clustered: its count stays null.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, subjects
from vidar.models.jobs import JobDispatch, VideoClustered
from vidar.models.stream_settings import DETECTOR_TYPES
from vidar_detector.clustering import Member, cluster, metric_of
from vidar_detector.settings import DetectorSettings

log = logging.getLogger(__name__)

Publish = Callable[[str, BaseModel, str], Awaitable[None]]  # subject, payload, message id
# Seconds between counts of the recorded detections while waiting for the storage service.
POLL_INTERVAL = 0.25


class RunClusters:
    def __init__(self, settings: DetectorSettings, db: AsyncDatabase, publish: Publish) -> None:
        self._settings = settings
        self._detections = db[archive.DETECTIONS]
        self._publish = publish

    async def publish(
        self, dispatch: JobDispatch, track_prefix: str, published: Mapping[str, int], giving_up: Callable[[], bool]
    ) -> None:
        """`video.clustered` for each kind the run detected; `published` counts, by kind, the
        detection events of the tracks whose ids start with `track_prefix` (the run's tracking
        state, kept across the attempts that resumed it). The wait for the records ends early
        once `giving_up()` (the run was stopped or the archive deleted, the worker shuts down)."""
        detectors = dispatch.stream_settings.detectors
        for kind in DETECTOR_TYPES:
            if getattr(detectors, kind) is not None:
                await self._publish_kind(dispatch, kind, track_prefix, published.get(kind, 0), giving_up)

    async def _publish_kind(
        self, dispatch: JobDispatch, kind: str, track_prefix: str, published: int, giving_up: Callable[[], bool]
    ) -> None:
        query = {"video_id": dispatch.video_id, "run_id": dispatch.run_id, "kind": kind}
        if not await self._recorded(query | {"track_id": {"$regex": f"^{track_prefix}"}}, published, giving_up):
            log.warning(
                "run %s: storage did not record its %d %s detections in %.0f s; not clustered",
                dispatch.run_id,
                published,
                kind,
                self._settings.cluster_wait_timeout,
            )
            return
        records = await self._records(query)
        if unembedded := sum(1 for record in records if not record.get("embedding")):
            # Posted by a detector that computed no embeddings: clusters of a part would be wrong.
            log.warning("run %s: %d %s detections have no embedding; not clustered", dispatch.run_id, unembedded, kind)
            return
        members = [Member(r["_id"], r["embedding"], r["quality"], r["timestamp"]) for r in records]
        clusters = await asyncio.to_thread(cluster, members, self._threshold(kind), metric_of(kind))
        clustered = VideoClustered(video_id=dispatch.video_id, run_id=dispatch.run_id, kind=kind, clusters=clusters)
        await self._publish(subjects.VIDEO_CLUSTERED, clustered, clustered.event_id)

    def _threshold(self, kind: str) -> float:
        settings = self._settings
        return settings.face_cluster_threshold if kind == "face" else settings.appearance_cluster_threshold

    async def _recorded(self, query: dict, published: int, giving_up: Callable[[], bool]) -> bool:
        """Whether all `published` records are there, polling until the timeout. A poll: storage
        announces no event per record written, and the count is one indexed query a quarter second."""
        deadline = time.monotonic() + self._settings.cluster_wait_timeout
        while await self._detections.count_documents(query) < published:
            if time.monotonic() >= deadline or giving_up():
                return False
            await asyncio.sleep(POLL_INTERVAL)
        return True

    async def _records(self, query: dict) -> list[dict]:
        projection = {"embedding": 1, "quality": 1, "timestamp": 1}
        return await self._detections.find(query, projection=projection).to_list()
