"""The vector index: every stored event's embedding, searched by `looks_like`.

The embedded default keeps one float32 matrix per kind in the gateway's memory, derived from
the `detections` records the storage service writes (the one source of truth): at start it loads
them, then every `search_sync_interval` seconds it compares each archive's run and counters (kept
equal to its records in one transaction by the storage service) with what it holds and reloads
the archives whose records changed, dropping deleted ones. So it survives restarts (it is
rebuilt), a second gateway builds its own, a re-run replaces an archive's vectors and a deleted
archive leaves none. Every hit is read back from `detections` with the request's filters anyway,
so a record deleted since the last pass is never returned.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive
from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar_gateway.search.matrix import VectorMatrix
from vidar_gateway.search.ranked import Ranked
from vidar_gateway.search.similarity import Similarity

log = logging.getLogger(__name__)

# dlib's face embeddings; MobileNetV2's bottleneck for bodies and cars.
DIMENSIONS: dict[DetectorType, int] = {"face": 128, "body": 1280, "car": 1280}
COUNTERS: dict[DetectorType, str] = {"face": "face_count", "body": "body_count", "car": "car_count"}


class VectorIndex(Protocol):
    """What `looks_like` needs of an index, whichever engine holds the vectors."""

    async def search(
        self, kind: DetectorType, vector: np.ndarray, min_confidence: float, videos: set[int] | None
    ) -> list[Ranked]:
        """Events of `kind` at least `min_confidence` alike, most alike first (ties by id), of
        the `videos` archives only when given."""
        ...


@dataclass(frozen=True)
class _Loaded:
    """What the index holds of one archive's kind: the run and record count it was loaded at, and
    whether every record was of that run (a new run's records arrive before the old ones go)."""

    run: str | None
    count: int
    clean: bool


class EmbeddedIndex:
    def __init__(self, db: AsyncDatabase) -> None:
        self._videos = db[archive.VIDEOS]
        self._detections = db[archive.DETECTIONS]
        self._matrices = {kind: VectorMatrix(DIMENSIONS[kind]) for kind in DETECTOR_TYPES}
        self._loaded: dict[tuple[int, DetectorType], _Loaded] = {}

    def __len__(self) -> int:
        return sum(len(matrix) for matrix in self._matrices.values())

    @property
    def nbytes(self) -> int:
        return sum(matrix.nbytes for matrix in self._matrices.values())

    async def search(
        self, kind: DetectorType, vector: np.ndarray, min_confidence: float, videos: set[int] | None
    ) -> list[Ranked]:
        similarity = Similarity(kind)
        limit = similarity.max_squared_distance(min_confidence)
        ids, squared = await asyncio.to_thread(self._matrices[kind].search, vector, limit, videos)
        # Rounded, so a confidence reads the same in every request and in the page cursors.
        confidences = np.round(similarity.confidence(squared.astype(np.float64)), 6)
        hits = sorted(zip((-confidences).tolist(), ids.tolist(), strict=True))
        return [Ranked(event_id, -negated) for negated, event_id in hits if -negated >= min_confidence]

    async def keep_in_sync(self, interval: float) -> None:
        while True:
            try:
                await self.sync()
            except Exception:
                log.exception("the vector index could not be brought up to date; trying again")
            await asyncio.sleep(interval)

    async def sync(self) -> None:
        """One pass: reload what changed since the last, drop what is gone."""
        projection = {"current_run": 1, **dict.fromkeys(COUNTERS.values(), 1)}
        present: set[tuple[int, DetectorType]] = set()
        async for video in self._videos.find({}, projection=projection):
            for kind, counter in COUNTERS.items():
                key = (video["_id"], kind)
                present.add(key)
                await self._refresh(key, video.get("current_run"), video.get(counter) or 0)
        for video_id, kind in set(self._loaded) - present:
            self._matrices[kind].drop(video_id)
            del self._loaded[video_id, kind]

    async def _refresh(self, key: tuple[int, DetectorType], run: str | None, count: int) -> None:
        held = self._loaded.get(key)
        if held == _Loaded(run, count, clean=True) or (held is None and count == 0):
            return
        video_id, kind = key
        ids, vectors, runs = [], [], set()
        records = self._detections.find({"video_id": video_id, "kind": kind}, projection={"embedding": 1, "run_id": 1})
        async for record in records:
            runs.add(record.get("run_id"))
            if len(record.get("embedding") or ()) == DIMENSIONS[kind]:
                ids.append(record["_id"])
                vectors.append(record["embedding"])
        matrix = np.asarray(vectors, np.float32).reshape(len(ids), DIMENSIONS[kind])
        await asyncio.to_thread(self._matrices[kind].replace, video_id, ids, matrix)
        self._loaded[key] = _Loaded(run, count, clean=runs <= {run})
