"""Cluster records: the archive's clusters of each kind, the `cluster` of each member detection,
the archive's `<kind>_cluster_count` and its clustering state (DONE), written in one transaction.

A `video.clustered` event replaces the archive's clusters of its kind, so a redelivery writes the
same state again. Only the archive's current run may write: a late event of an older run, or of
a deleted archive, changes nothing. A new run drops the older runs' clusters (`DetectionRecords.new_run`).
"""

from pymongo import AsyncMongoClient, UpdateMany
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, indexes
from vidar.documents import CURRENT_RUN, ClusterRecord, ObjectCounts, RunClustering
from vidar.health import ClusteringState
from vidar.models.jobs import VideoClustered
from vidar.mongo import in_transaction


class ClusterRecords:
    def __init__(self, client: AsyncMongoClient, db: AsyncDatabase) -> None:
        self._client = client
        self._clusters = db[archive.CLUSTERS]
        self._detections = db[archive.DETECTIONS]
        self._videos = db[archive.VIDEOS]

    async def ensure_indexes(self) -> None:
        await indexes.ensure(self._clusters.database, archive.CLUSTERS)

    async def apply(self, clustered: VideoClustered) -> None:
        current_run = {"_id": clustered.video_id, CURRENT_RUN: clustered.run_id}
        of_kind = {"video_id": clustered.video_id, "kind": clustered.kind}

        async def replace(session: AsyncClientSession) -> None:
            if await self._videos.find_one(current_run, projection={"_id": 1}, session=session) is None:
                return  # the archive is gone, or a later run replaced this one
            await self._clusters.delete_many(of_kind, session=session)
            if clustered.clusters:
                documents = [ClusterRecord.of(clustered, cluster).document() for cluster in clustered.clusters]
                await self._clusters.insert_many(documents, session=session)
                await self._detections.bulk_write(_memberships(clustered), ordered=False, session=session)
            count = ObjectCounts.clusters(clustered.kind, len(clustered.clusters)).as_set()
            done = RunClustering.reached(clustered.kind, ClusteringState.DONE)
            await self._videos.update_one(current_run, {"$set": count | done}, session=session)

        await in_transaction(self._client, replace)


def _memberships(clustered: VideoClustered) -> list[UpdateMany]:
    """One write per cluster: `cluster` on each of its members (detection ids are event ids)."""
    run = {"video_id": clustered.video_id, "run_id": clustered.run_id}
    return [
        UpdateMany({**run, "_id": {"$in": cluster.members}}, {"$set": {"cluster": cluster.cluster}})
        for cluster in clustered.clusters
    ]
