"""The vector index: every stored event's embedding, searched by `looks_like`.

The embedded default keeps one float32 matrix per kind in the gateway's memory, derived from
the `detections` records the storage service writes (the one source of truth): `rebuild` loads
the records of each archive's current run, then the events that change them are applied one at a
time as they come (`vidar_gateway.search.follower` says from where, and why nothing is missed):
a posted object joins the index if its run is its archive's current run, and a new run or a
deletion drops what the archive held of an older run. So it survives restarts (it is rebuilt), a
second gateway builds its own, a re-run replaces an archive's vectors and a deleted archive
leaves none. Every hit is read back from `detections` with the request's filters anyway, so an
event the storage service has not recorded (yet, or ever) is never returned.
"""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive
from vidar.documents import CURRENT_RUN
from vidar.models.jobs import DetectionPosted
from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar_gateway.search.matrix import VectorMatrix
from vidar_gateway.search.ranked import Ranked
from vidar_gateway.search.similarity import Similarity

log = logging.getLogger(__name__)

# dlib's face embeddings; MobileNetV2's bottleneck for bodies and cars.
DIMENSIONS: dict[DetectorType, int] = {"face": 128, "body": 1280, "car": 1280}
# Records a rebuild adds to the matrices at once (their vectors kept as float32 until then).
REBUILD_CHUNK = 4096


class VectorIndex(Protocol):
    """What `looks_like` needs of an index, whichever engine holds the vectors."""

    async def search(
        self, kind: DetectorType, vector: np.ndarray, min_confidence: float, videos: set[int] | None
    ) -> list[Ranked]:
        """Events of `kind` at least `min_confidence` alike, most alike first (ties by id), of
        the `videos` archives only when given."""
        ...


class MatrixIndex:
    """`VectorIndex` on matrices held as they are (the record index's embedded engine)."""

    def __init__(self, matrices: dict[DetectorType, VectorMatrix]) -> None:
        self._matrices = matrices

    def __len__(self) -> int:
        return sum(len(matrix) for matrix in self._matrices.values())

    @property
    def nbytes(self) -> int:
        return sum(matrix.nbytes for matrix in self._matrices.values())

    async def search(
        self, kind: DetectorType, vector: np.ndarray, min_confidence: float, videos: set[int] | None
    ) -> list[Ranked]:
        return await search_matrix(self._matrices[kind], kind, vector, min_confidence, videos)


class EmbeddedIndex(MatrixIndex):
    """The matrices, and per archive the run its rows are of and its current run as last read
    (a posted object of that run is added without asking MongoDB again)."""

    def __init__(self, db: AsyncDatabase) -> None:
        super().__init__(_empty_matrices())
        self._videos = db[archive.VIDEOS]
        self._detections = db[archive.DETECTIONS]
        self._held_runs: dict[int, str] = {}
        self._current_runs: dict[int, str | None] = {}

    async def rebuild(self) -> None:
        """Everything again from MongoDB: each archive's current run, then that run's records."""
        runs = {doc["_id"]: doc.get(CURRENT_RUN) async for doc in self._videos.find({}, {CURRENT_RUN: 1})}
        matrices = _empty_matrices()
        held: dict[int, str] = {}
        chunk: list[dict[str, Any]] = []
        fields = {"video_id": 1, "kind": 1, "run_id": 1, "embedding": 1}
        async for record in self._detections.find({}, fields):
            run = runs.get(record["video_id"])
            if run is not None and record.get("run_id") == run and _fits(record["kind"], record.get("embedding")):
                held[record["video_id"]] = run
                chunk.append({**record, "embedding": np.asarray(record["embedding"], np.float32)})
            if len(chunk) == REBUILD_CHUNK:
                await asyncio.to_thread(_load, matrices, chunk)
                chunk = []
        await asyncio.to_thread(_load, matrices, chunk)
        self._matrices, self._held_runs, self._current_runs = matrices, held, runs
        log.info("vector index rebuilt: %d vectors of %d archives", len(self), len(held))

    async def add(self, detection: DetectionPosted) -> None:
        """A posted object joins its archive's vectors if it is of the archive's current run
        (the storage service records it under the same condition); it replaces those of an
        older run."""
        video, run = detection.video_id, detection.run_id
        if not _fits(detection.kind, detection.embedding):
            return
        if self._current_runs.get(video) != run and await self._read_current_run(video) != run:
            return  # a replaced run's late post, or the archive is gone
        if self._held_runs.get(video, run) != run:
            await self._drop(video)
        self._held_runs[video] = run
        vector = np.asarray(detection.embedding, np.float32)[None, :]
        await asyncio.to_thread(self._matrices[detection.kind].add, video, [detection.event_id], vector)

    async def recheck(self, video_id: int) -> None:
        """The archive's run changed or it was deleted: drop what it holds unless of its current run."""
        current = await self._read_current_run(video_id)
        if self._held_runs.get(video_id, current) != current:
            await self._drop(video_id)

    async def _read_current_run(self, video_id: int) -> str | None:
        doc = await self._videos.find_one({"_id": video_id}, {CURRENT_RUN: 1})
        if doc is None:
            self._current_runs.pop(video_id, None)
            return None
        self._current_runs[video_id] = doc.get(CURRENT_RUN)
        return doc.get(CURRENT_RUN)

    async def _drop(self, video_id: int) -> None:
        # Forgotten only once every kind's rows are gone: a drop cut short is done again.
        await asyncio.to_thread(self._drop_rows, video_id)
        del self._held_runs[video_id]

    def _drop_rows(self, video_id: int) -> None:
        for matrix in self._matrices.values():
            matrix.drop(video_id)


async def search_matrix(
    matrix: VectorMatrix, kind: DetectorType, vector: np.ndarray, min_confidence: float, groups: set[int] | None
) -> list[Ranked]:
    """`VectorIndex.search` on one kind's matrix, in a worker thread."""
    similarity = Similarity(kind)
    limit = similarity.max_squared_distance(min_confidence)
    ids, squared = await asyncio.to_thread(matrix.search, vector, limit, groups)
    # Rounded, so a confidence reads the same in every request and in the page cursors.
    confidences = np.round(similarity.confidence(squared.astype(np.float64)), 6)
    hits = sorted(zip((-confidences).tolist(), ids.tolist(), strict=True))
    return [Ranked(event_id, -negated) for negated, event_id in hits if -negated >= min_confidence]


def _empty_matrices() -> dict[DetectorType, VectorMatrix]:
    return {kind: VectorMatrix(DIMENSIONS[kind]) for kind in DETECTOR_TYPES}


def _fits(kind: DetectorType, embedding: Sequence[float] | None) -> bool:
    return embedding is not None and len(embedding) == DIMENSIONS[kind]


def _load(matrices: dict[DetectorType, VectorMatrix], records: list[dict[str, Any]]) -> None:
    """Add records to the matrices, an archive and kind at a time."""
    groups: dict[tuple[int, DetectorType], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["video_id"], record["kind"]), []).append(record)
    for (video, kind), group in groups.items():
        matrices[kind].add(video, [record["_id"] for record in group], np.stack([r["embedding"] for r in group]))
