"""The vector index on Qdrant, for installs whose vectors outgrow one gateway's memory.

One collection per kind (`vidar_faces`, `vidar_bodies`, `vidar_cars`), a point per stored event:
its id derived from the event id (so writing an event again changes nothing), its vector the
embedding, its payload the event id, archive, run and kind. Every kind is stored with Euclidean
distance, the distance the embedded index ranks by, and `Similarity` turns it into the same
`looks_like_confidence`, so a threshold means the same on both engines (for bodies and cars,
L2-normalised vectors, that is their cosine similarity as before).

The gateway replicas share the writing (vidar_gateway.search.writer says how and why it is
consistent); every replica searches. A search asks Qdrant for at most `MAX_CANDIDATES` points
above the threshold, the most alike, then ranks them as the embedded index does (most alike
first, ties by id), so the ranking, its paging and the filters read back from `detections`
work unchanged; a ranking is cut at that many events (see the README).
"""

import contextlib
import logging
import math
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np
from pymongo.asynchronous.database import AsyncDatabase
from qdrant_client import AsyncQdrantClient, models

from vidar import archive
from vidar.documents import CURRENT_RUN
from vidar.models.jobs import DetectionPosted
from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar_gateway.search.index import DIMENSIONS
from vidar_gateway.search.ranked import Ranked
from vidar_gateway.search.settings import SearchSettings
from vidar_gateway.search.similarity import Similarity

log = logging.getLogger(__name__)

COLLECTIONS: dict[DetectorType, str] = {"face": "vidar_faces", "body": "vidar_bodies", "car": "vidar_cars"}
# Point ids are UUIDs (Qdrant takes those or integers): an event id's, in a namespace of vidar's own.
POINT_NAMESPACE = uuid.UUID("5d6c3f0e-4f1b-5a86-9c1e-7a2f0b7e9d41")
# The most points one search takes from Qdrant: the first this many of the ranking.
MAX_CANDIDATES = 10_000
# Points written to Qdrant at once by a backfill.
BACKFILL_CHUNK = 1024
# Set in each collection's metadata once a backfill from `detections` has filled it.
BACKFILLED = "vidar_backfilled"
# Added to the radius asked of Qdrant (its float32 distances may differ from numpy's in the last
# bits); the threshold itself is applied afterwards, on the confidence, as the embedded index does.
RADIUS_SLACK = 1e-5


def point_id(event_id: str) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, event_id))


@contextlib.asynccontextmanager
async def opened(settings: SearchSettings, db: AsyncDatabase) -> AsyncIterator["QdrantIndex"]:
    """The index on the Qdrant server `settings` name (or in local mode at `qdrant_path`), closed at the end."""
    if settings.qdrant_path is not None:
        client = AsyncQdrantClient(path=settings.qdrant_path)
    else:
        client = AsyncQdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
    index = QdrantIndex(client, db, payload_indexes=settings.qdrant_path is None)
    try:
        yield index
    finally:
        await index.close()


class QdrantVectors:
    """`VectorIndex` on one Qdrant collection per kind, Euclidean: a point's payload carries the id
    a search ranks and returns (`id_field`) and its archive (`video_id`, what `videos` filters)."""

    def __init__(self, client: AsyncQdrantClient, collections: dict[DetectorType, str], id_field: str) -> None:
        self.client = client
        self.collections = collections
        self._id_field = id_field

    async def close(self) -> None:
        await self.client.close()

    async def search(
        self, kind: DetectorType, vector: np.ndarray, min_confidence: float, videos: set[int] | None
    ) -> list[Ranked]:
        if videos is not None and not videos:
            return []
        similarity = Similarity(kind)
        radius = math.sqrt(similarity.max_squared_distance(min_confidence)) + RADIUS_SLACK
        found = await self.client.query_points(
            self.collections[kind],
            query=np.asarray(vector, np.float32).tolist(),
            query_filter=None if videos is None else _of_videos(videos),
            score_threshold=radius,  # a Euclidean score is a distance: the largest taken
            limit=MAX_CANDIDATES,
            with_payload=[self._id_field],
        )
        distances = [point.score for point in found.points]
        return ranked(similarity, min_confidence, distances, [self._id_of(point) for point in found.points])

    async def ensure_collections(self) -> None:
        """Each kind's collection, made if missing (a replica making it at the same time is fine)."""
        for kind, name in self.collections.items():
            if await self.client.collection_exists(name):
                continue
            vectors = models.VectorParams(size=DIMENSIONS[kind], distance=models.Distance.EUCLID)
            try:
                await self.client.create_collection(name, vectors_config=vectors)
            except Exception:
                if not await self.client.collection_exists(name):
                    raise
                continue  # another replica's
            await self._index_payload(name)

    async def _index_payload(self, collection: str) -> None:
        """The payload a new collection's searches and deletions filter on, indexed: none here."""

    def _id_of(self, point: models.ScoredPoint) -> str:
        assert point.payload is not None, "a search asks for each point's id"
        return str(point.payload[self._id_field])


class QdrantIndex(QdrantVectors):
    """`VectorIndex` of the stored events on Qdrant, and the writes that keep it to each archive's current run."""

    def __init__(self, client: AsyncQdrantClient, db: AsyncDatabase, *, payload_indexes: bool = True) -> None:
        super().__init__(client, COLLECTIONS, "event_id")
        self._videos = db[archive.VIDEOS]
        self._detections = db[archive.DETECTIONS]
        # Qdrant's local mode (the tests) has no payload indexes and warns when asked for one.
        self._payload_indexes = payload_indexes

    async def is_backfilled(self) -> bool:
        for name in COLLECTIONS.values():
            metadata = (await self.client.get_collection(name)).config.metadata or {}
            if not metadata.get(BACKFILLED):
                return False
        return True

    async def mark_backfilled(self) -> None:
        for name in COLLECTIONS.values():
            await self.client.update_collection(name, metadata={BACKFILLED: True})

    async def backfill(self) -> None:
        """The records of each archive's current run, written again (the same points: nothing
        doubles), then checked against the runs as they are now, since a run may change meanwhile."""
        runs = await self._current_runs()
        chunks: dict[DetectorType, list[models.PointStruct]] = {kind: [] for kind in DETECTOR_TYPES}
        written: set[int] = set()
        fields = {"video_id": 1, "kind": 1, "run_id": 1, "embedding": 1}
        async for record in self._detections.find({}, fields):
            run = runs.get(record["video_id"])
            if run is None or record.get("run_id") != run or not _fits(record["kind"], record.get("embedding")):
                continue
            written.add(record["video_id"])
            chunk = chunks[record["kind"]]
            chunk.append(_point(record["_id"], record["video_id"], run, record["kind"], record["embedding"]))
            if len(chunk) == BACKFILL_CHUNK:
                await self.client.upsert(COLLECTIONS[record["kind"]], chunk, wait=True)
                chunk.clear()
        for kind, chunk in chunks.items():
            if chunk:
                await self.client.upsert(COLLECTIONS[kind], chunk, wait=True)
        now = await self._current_runs()
        for video in written:
            if now.get(video) != runs[video]:
                await self._keep_only(video, now.get(video))
        log.info("Qdrant backfilled from detections: %d archives", len(written))

    async def add(self, detection: DetectionPosted) -> None:
        """A posted object is written if its run is its archive's current run, and the run read
        again once it is: a change committed in between may have had its event applied already,
        before this point existed, so the point's archive is checked here instead."""
        video, run = detection.video_id, detection.run_id
        if not _fits(detection.kind, detection.embedding) or await self._current_run(video) != run:
            return  # a replaced run's late post, or the archive is gone
        point = _point(detection.event_id, video, run, detection.kind, detection.embedding)
        await self.client.upsert(COLLECTIONS[detection.kind], [point], wait=True)
        current = await self._current_run(video)
        if current != run:
            await self._keep_only(video, current)

    async def recheck(self, video_id: int) -> None:
        """The archive's run changed or it was deleted: its points of another run than its current go."""
        await self._keep_only(video_id, await self._current_run(video_id))

    async def _current_runs(self) -> dict[int, str | None]:
        return {doc["_id"]: doc.get(CURRENT_RUN) async for doc in self._videos.find({}, {CURRENT_RUN: 1})}

    async def _current_run(self, video_id: int) -> str | None:
        doc = await self._videos.find_one({"_id": video_id}, {CURRENT_RUN: 1})
        return None if doc is None else doc.get(CURRENT_RUN)

    async def _keep_only(self, video_id: int, run: str | None) -> None:
        """Drops the archive's points but those of `run` (all of them when None)."""
        keep = [] if run is None else [models.FieldCondition(key="run_id", match=models.MatchValue(value=run))]
        archive_points = models.FieldCondition(key="video_id", match=models.MatchValue(value=video_id))
        selector = models.FilterSelector(filter=models.Filter(must=[archive_points], must_not=keep))
        for name in COLLECTIONS.values():
            await self.client.delete(name, points_selector=selector, wait=True)

    async def _index_payload(self, collection: str) -> None:
        """The fields searches and deletions filter on, indexed (on a server)."""
        if not self._payload_indexes:
            return
        await self.client.create_payload_index(collection, "video_id", models.PayloadSchemaType.INTEGER, wait=True)
        await self.client.create_payload_index(collection, "run_id", models.PayloadSchemaType.KEYWORD, wait=True)


def ranked(
    similarity: Similarity, min_confidence: float, distances: Sequence[float], event_ids: Sequence[str]
) -> list[Ranked]:
    """Qdrant's Euclidean distances as the embedded index's ranking: confidences rounded the same
    way, at least the threshold, most alike first and ties by id."""
    squared = np.square(np.asarray(distances, np.float64))
    confidences = np.round(similarity.confidence(squared), 6)
    hits = sorted(zip((-confidences).tolist(), event_ids, strict=True))
    return [Ranked(event_id, -negated) for negated, event_id in hits if -negated >= min_confidence]


def _of_videos(videos: set[int]) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key="video_id", match=models.MatchAny(any=sorted(videos)))])


def _point(event_id: str, video_id: int, run_id: str, kind: DetectorType, embedding: Any) -> models.PointStruct:
    payload = {"event_id": event_id, "video_id": video_id, "run_id": run_id, "kind": kind}
    return models.PointStruct(id=point_id(event_id), vector=[float(value) for value in embedding], payload=payload)


def _fits(kind: DetectorType, embedding: Sequence[float] | None) -> bool:
    return embedding is not None and len(embedding) == DIMENSIONS[kind]
