"""One kind's vectors in one float32 matrix, searched by brute force.

Brute force, measured (tests/bench/search.py): one query against 1,000,000 face vectors is one
matrix-vector product over 512 MB, tens of milliseconds on 2 cores, exact (no recall lost to an
approximate index) and with nothing to tune or rebuild. Rows are grouped by archive, the unit the
index is kept consistent in: a re-run or a deletion replaces or drops an archive's rows, whose
room is reclaimed once half the matrix is dead.
"""

import threading
from collections.abc import Iterable

import numpy as np

FIRST_CAPACITY = 1024


class VectorMatrix:
    """Rows of one kind: vector, squared norm, event id and archive id. Thread-safe: searches run
    in worker threads while the index is kept up to date."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._vectors = np.empty((0, dimension), np.float32)
        self._norms = np.empty(0, np.float32)
        self._ids = np.empty(0, object)
        self._alive = np.empty(0, bool)
        self._size = 0
        self._dead = 0
        self._rows_of: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size - self._dead

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (event id strings not counted)."""
        arrays = (self._vectors, self._norms, self._ids, self._alive)
        return sum(array.nbytes for array in arrays) + sum(rows.nbytes for rows in self._rows_of.values())

    def archives(self) -> set[int]:
        return set(self._rows_of)

    def replace(self, video_id: int, ids: list[str], vectors: np.ndarray) -> None:
        """The archive's rows become these (none when empty)."""
        with self._lock:
            self._drop(video_id)
            if ids:
                self._append(video_id, ids, np.asarray(vectors, np.float32).reshape(len(ids), self.dimension))
            if self._dead > max(self._size // 2, FIRST_CAPACITY):
                self._compact()

    def drop(self, video_id: int) -> None:
        self.replace(video_id, [], np.empty((0, self.dimension), np.float32))

    def search(
        self, query: np.ndarray, max_squared: float, videos: Iterable[int] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Event ids and squared distances of the rows within `max_squared` of `query`, of the
        given archives only when `videos` is not None."""
        query = np.asarray(query, np.float32)
        with self._lock:
            if videos is None:
                rows = slice(0, self._size)
                alive = self._alive[rows]
            else:
                wanted = [self._rows_of[video] for video in videos if video in self._rows_of]
                rows = np.concatenate(wanted) if wanted else np.empty(0, np.int64)
                alive = np.ones(len(rows), bool)
            vectors = self._vectors[rows]
            squared = self._norms[rows] - 2 * (vectors @ query) + float(query @ query)
            hits = np.flatnonzero(alive & (squared <= max_squared))
            ids = self._ids[rows][hits]
            # Again for the hits alone, as differences: the expansion above loses the last digits
            # to cancellation, and the same embedding must read as a distance of 0.
            exact = np.square(vectors[hits] - query).sum(axis=1)
        return ids, exact

    def _append(self, video_id: int, ids: list[str], vectors: np.ndarray) -> None:
        end = self._size + len(ids)
        if end > len(self._vectors):
            self._grow(max(end, 2 * len(self._vectors), FIRST_CAPACITY))
        self._vectors[self._size : end] = vectors
        self._norms[self._size : end] = np.einsum("ij,ij->i", vectors, vectors)
        self._ids[self._size : end] = ids
        self._alive[self._size : end] = True
        self._rows_of[video_id] = np.arange(self._size, end)
        self._size = end

    def _drop(self, video_id: int) -> None:
        rows = self._rows_of.pop(video_id, None)
        if rows is not None:
            self._alive[rows] = False
            self._dead += len(rows)

    def _grow(self, capacity: int) -> None:
        self._vectors = _resized(self._vectors, capacity, self._size)
        self._norms = _resized(self._norms, capacity, self._size)
        self._ids = _resized(self._ids, capacity, self._size)
        self._alive = _resized(self._alive, capacity, self._size)

    def _compact(self) -> None:
        """Live rows moved to the front, in archive order."""
        order = sorted(self._rows_of.items())
        keep = np.concatenate([rows for _, rows in order]) if order else np.empty(0, np.int64)
        size = len(keep)
        self._vectors[:size], self._norms[:size] = self._vectors[keep], self._norms[keep]
        self._ids[:size], self._alive[:size] = self._ids[keep], True
        self._alive[size:] = False
        start = 0
        for video_id, rows in order:
            self._rows_of[video_id] = np.arange(start, start + len(rows))
            start += len(rows)
        self._size, self._dead = size, 0


def _resized(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    grown = np.zeros((capacity, *array.shape[1:]), array.dtype)
    grown[:used] = array[:used]
    return grown
