"""One kind's vectors in one float32 matrix, searched by brute force.

Brute force, measured (tests/bench/search.py): one query against 1,000,000 face vectors is one
matrix-vector product over 512 MB, tens of milliseconds on 2 cores, exact (no recall lost to an
approximate index) and with nothing to tune or rebuild. Rows are grouped by archive, the unit the
index is kept consistent in: an archive's stored events are added as they come (an event already
held is skipped, so replaying one changes nothing), a re-run or a deletion drops its rows, whose
room is reclaimed once half the matrix is dead.
"""

import threading
from collections.abc import Iterable

import numpy as np

FIRST_CAPACITY = 1024


class VectorMatrix:
    """Rows of one kind: vector, squared norm, event id and archive id. Thread-safe: searches run
    in worker threads while the index is kept up to date."""

    def __init__(self, dimension: int, capacity: int = 0) -> None:
        """`capacity`: the rows it will hold, when known, so that it never grows (a growth holds
        the old arrays and the new at once: 8 GB for a million 1,280-D rows instead of 5)."""
        self.dimension = dimension
        self._vectors = np.zeros((capacity, dimension), np.float32)
        self._norms = np.zeros(capacity, np.float32)
        self._ids = np.empty(capacity, object)
        self._alive = np.zeros(capacity, bool)
        self._size = 0
        self._dead = 0
        self._rows_of: dict[int, _Rows] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size - self._dead

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (event id strings and their sets not counted)."""
        arrays = (self._vectors, self._norms, self._ids, self._alive)
        return sum(array.nbytes for array in arrays) + sum(rows.nbytes for rows in self._rows_of.values())

    def archives(self) -> set[int]:
        return set(self._rows_of)

    def replace(self, video_id: int, ids: list[str], vectors: np.ndarray) -> None:
        """The archive's rows become these (none when empty)."""
        with self._lock:
            self._drop(video_id)
            self._add(video_id, ids, vectors)
            self._reclaim()

    def add(self, video_id: int, ids: list[str], vectors: np.ndarray) -> None:
        """These rows join the archive's, but for the event ids it already has."""
        with self._lock:
            self._add(video_id, ids, vectors)

    def drop(self, video_id: int) -> None:
        with self._lock:
            self._drop(video_id)
            self._reclaim()

    def search(
        self, query: np.ndarray, max_squared: float, videos: Iterable[int] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Event ids and squared distances of the rows within `max_squared` of `query`, of the
        given archives only when `videos` is not None."""
        query = np.asarray(query, np.float32)
        rows: slice | np.ndarray
        with self._lock:
            if videos is None:
                rows = slice(0, self._size)
                alive = self._alive[rows]
            else:
                wanted = [self._rows_of[video].rows for video in videos if video in self._rows_of]
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

    def _add(self, video_id: int, ids: list[str], vectors: np.ndarray) -> None:
        archive = self._rows_of.get(video_id) or _Rows()
        first_row_of: dict[str, int] = {}
        for row, event_id in enumerate(ids):
            if event_id not in archive.ids:
                first_row_of.setdefault(event_id, row)
        if not first_row_of:
            return
        vectors = np.asarray(vectors, np.float32).reshape(len(ids), self.dimension)[list(first_row_of.values())]
        end = self._size + len(vectors)
        if end > len(self._vectors):
            self._grow(max(end, 2 * len(self._vectors), FIRST_CAPACITY))
        self._vectors[self._size : end] = vectors
        self._norms[self._size : end] = np.einsum("ij,ij->i", vectors, vectors)
        self._ids[self._size : end] = list(first_row_of)
        self._alive[self._size : end] = True
        archive.extend(np.arange(self._size, end), list(first_row_of))
        self._rows_of[video_id] = archive
        self._size = end

    def _drop(self, video_id: int) -> None:
        archive = self._rows_of.pop(video_id, None)
        if archive is not None:
            self._alive[archive.rows] = False
            self._dead += len(archive)

    def _reclaim(self) -> None:
        if self._dead > max(self._size // 2, FIRST_CAPACITY):
            self._compact()

    def _grow(self, capacity: int) -> None:
        self._vectors = _resized(self._vectors, capacity, self._size)
        self._norms = _resized(self._norms, capacity, self._size)
        self._ids = _resized(self._ids, capacity, self._size)
        self._alive = _resized(self._alive, capacity, self._size)

    def _compact(self) -> None:
        """Live rows moved to the front, in archive order."""
        order = sorted(self._rows_of.items())
        keep = np.concatenate([archive.rows for _, archive in order]) if order else np.empty(0, np.int64)
        size = len(keep)
        self._vectors[:size], self._norms[:size] = self._vectors[keep], self._norms[keep]
        self._ids[:size], self._alive[:size] = self._ids[keep], True
        self._alive[size:] = False
        start = 0
        for _, archive in order:
            archive.renumber(start)
            start += len(archive)
        self._size, self._dead = size, 0


class _Rows:
    """One archive's row numbers, grown in place (an event at a time costs no copy of the rest),
    and its event ids, so that an event already held is not added twice."""

    def __init__(self) -> None:
        self._rows = np.empty(0, np.int64)
        self.ids: set[str] = set()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def rows(self) -> np.ndarray:
        return self._rows[: len(self)]

    @property
    def nbytes(self) -> int:
        return self._rows.nbytes

    def extend(self, rows: np.ndarray, ids: list[str]) -> None:
        held = len(self)
        if held + len(rows) > len(self._rows):
            self._rows = _resized(self._rows, max(held + len(rows), 2 * len(self._rows)), held)
        self._rows[held : held + len(rows)] = rows
        self.ids.update(ids)

    def renumber(self, start: int) -> None:
        """Its rows are now `start`, `start + 1`, ... (after a compaction, in the same order)."""
        self._rows = np.arange(start, start + len(self))


def _resized(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    grown = np.zeros((capacity, *array.shape[1:]), array.dtype)
    grown[:used] = array[:used]
    return grown
