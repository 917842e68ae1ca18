"""looks_like on the embedded index: one face against 10,000, 100,000 and 1,000,000 stored face
vectors (128-D float32, in archives of 1,000 events), p50/p95 over 200 queries at the default
threshold, and the index's memory (its arrays, and the process's RSS growth with the event ids).
Run on 2 BLAS threads: `python -m tests.bench.search`."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import asyncio
import resource
import time

import numpy as np

from vidar_gateway.search.index import EmbeddedIndex

SIZES = (10_000, 100_000, 1_000_000)
PER_ARCHIVE = 1_000
QUERIES = 200


class _NoDb(dict):
    def __missing__(self, name: str) -> None:
        return None


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(size: int, rng: np.random.Generator) -> dict[str, float]:
    index = EmbeddedIndex(_NoDb())  # filled directly, as a sync pass would
    rss = _rss_mb()
    matrix = index._matrices["face"]
    # dlib-like vectors: norm about 1.41, so distances spread as real faces' do.
    for video in range(size // PER_ARCHIVE):
        vectors = rng.normal(0, 0.125, (PER_ARCHIVE, 128)).astype(np.float32)
        ids = [f"detection-{video}-{'0' * 32}-face-{n}-best-0" for n in range(PER_ARCHIVE)]
        matrix.replace(video, ids, vectors)
    grown = _rss_mb() - rss
    queries = rng.normal(0, 0.125, (QUERIES, 128)).astype(np.float32)
    took = []
    for query in queries:
        start = time.perf_counter()
        await index.search("face", query, 0.5, None)
        took.append((time.perf_counter() - start) * 1000)
    p50, p95 = np.percentile(took, [50, 95])
    return {"p50": p50, "p95": p95, "arrays_mb": index.nbytes / 1e6, "rss_growth_mb": grown}


async def main() -> None:
    rng = np.random.default_rng(1)
    print(f"{'face vectors':>14} {'p50 ms':>8} {'p95 ms':>8} {'index arrays MB':>16} {'RSS growth MB':>14}")
    for size in SIZES:
        row = await measure(size, rng)
        print(
            f"{size:>14,} {row['p50']:>8.1f} {row['p95']:>8.1f} {row['arrays_mb']:>16.0f} {row['rss_growth_mb']:>14.0f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
