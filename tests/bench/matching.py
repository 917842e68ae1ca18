"""Matching (issue 27): one posted object against the record index, as the gateway's matcher
compares each (`RecordIndex.best`): faces (128-D) against 10,000 and 1,000,000 face objects, and
a body (1,280-D) against 10,000 body objects, each record on one of 10 watch lists at the default
thresholds; p50/p95 over 200 events, and the events one core matches a second. The events are
strangers (no match: the whole index is compared, the usual case). Run on 1 BLAS thread, as the
matcher compares in the gateway's event loop, with the load average, since the machine may be
shared: `python -m tests.bench.matching`."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time

import numpy as np

from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar_gateway.records.index import ListRule, RecordIndex
from vidar_gateway.search.index import DIMENSIONS
from vidar_gateway.search.matrix import VectorMatrix

ROWS: tuple[tuple[DetectorType, int], ...] = (("face", 10_000), ("face", 1_000_000), ("body", 10_000))
LISTS = 10
EVENTS = 200
THRESHOLDS: dict[DetectorType, float] = {"face": 0.5, "body": 0.85, "car": 0.85}


def vectors(rng: np.random.Generator, kind: DetectorType, count: int) -> np.ndarray:
    """dlib-like faces (norm about 1.41); unit appearance vectors for bodies."""
    if kind == "face":
        return rng.normal(0, 0.125, (count, 128)).astype(np.float32)
    raw = rng.normal(0, 1, (count, DIMENSIONS[kind])).astype(np.float32)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def record_index(rng: np.random.Generator, kind: DetectorType, records: int) -> RecordIndex:
    """`records` records of one object each, on lists covering every camera group."""
    lists = {n: ListRule(n, frozenset(), dict(THRESHOLDS)) for n in range(LISTS)}
    matrix = VectorMatrix(DIMENSIONS[kind])
    chunk = 10_000
    for start in range(0, records, chunk):
        ids = [str(n) for n in range(start, start + chunk)]
        matrix.add(start // chunk, ids, vectors(rng, kind, chunk))  # grouped by chunk: only the rows count
    matrices = {other: VectorMatrix(DIMENSIONS[other]) for other in DETECTOR_TYPES}
    matrices[kind] = matrix
    card_of = {str(n): n for n in range(records)}
    lists_of_card: dict[DetectorType, dict[int, tuple[int, ...]]] = {other: {} for other in DETECTOR_TYPES}
    lists_of_card[kind] = {n: (n % LISTS,) for n in range(records)}
    return RecordIndex(lists, lists_of_card, matrices, card_of, revision=0)


def main() -> None:
    rng = np.random.default_rng(27)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'kind':<6}{'records':>11}{'p50 ms':>9}{'p95 ms':>9}{'events/s':>10}")
    for kind, records in ROWS:
        index = record_index(rng, kind, records)
        took = []
        for event in vectors(rng, kind, EVENTS):
            started = time.perf_counter()
            index.best(kind, 1, event)
            took.append(time.perf_counter() - started)
        p50, p95 = np.percentile(took, [50, 95]) * 1000
        print(f"{kind:<6}{records:>11,}{p50:>9.2f}{p95:>9.2f}{len(took) / sum(took):>10,.0f}")


if __name__ == "__main__":
    main()
