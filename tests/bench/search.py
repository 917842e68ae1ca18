"""looks_like on the embedded index: one face against 10,000, 100,000 and 1,000,000 stored face
vectors (128-D float32, in archives of 1,000 events), p50/p95 over 200 queries at the default
threshold, and the index's memory (its arrays, and the process's RSS growth with the event ids).
Then the gateway's start: the index rebuilt from 10,000 and 100,000 face records stored in
SecantusDB (the embedded default), with the load average, since the machine may be shared.
Last, for scale only, one row of Qdrant's local mode (qdrant-client's own search in Python, what
the tests run): not the Qdrant server, whose numbers these say nothing about.
Run on 2 BLAS threads: `python -m tests.bench.search`."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import asyncio
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from qdrant_client import AsyncQdrantClient, models

from tests.stack import CREDENTIALS, MONGO_ACCOUNT
from vidar.devstack import servers
from vidar.devstack.stack import running
from vidar_gateway.search.index import EmbeddedIndex
from vidar_gateway.search.qdrant import COLLECTIONS, QdrantIndex, point_id

SIZES = (10_000, 100_000, 1_000_000)
REBUILD_SIZES = (10_000, 100_000)
QDRANT_LOCAL_SIZE = 10_000
PER_ARCHIVE = 1_000
QUERIES = 200


class _NoDb(dict):
    def __missing__(self, name: str) -> None:
        return None


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(size: int, rng: np.random.Generator) -> dict[str, float]:
    index = EmbeddedIndex(_NoDb())  # filled directly, as a rebuild would
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


async def measure_qdrant_local(size: int, rng: np.random.Generator) -> dict[str, float]:
    """The same search on QdrantIndex in Qdrant's local mode, in memory."""
    index = QdrantIndex(AsyncQdrantClient(location=":memory:"), _NoDb(), payload_indexes=False)
    await index.ensure_collections()
    for video in range(size // PER_ARCHIVE):
        vectors = rng.normal(0, 0.125, (PER_ARCHIVE, 128)).astype(np.float32)
        ids = [f"detection-{video}-{'0' * 32}-face-{n}-best-0" for n in range(PER_ARCHIVE)]
        points = [
            models.PointStruct(id=point_id(event), vector=row.tolist(), payload={"event_id": event, "video_id": video})
            for event, row in zip(ids, vectors, strict=True)
        ]
        await index.client.upsert(COLLECTIONS["face"], points)
    took = []
    for query in rng.normal(0, 0.125, (QUERIES, 128)).astype(np.float32):
        start = time.perf_counter()
        await index.search("face", query, 0.5, None)
        took.append((time.perf_counter() - start) * 1000)
    await index.close()
    p50, p95 = np.percentile(took, [50, 95])
    return {"p50": p50, "p95": p95}


async def seed(db: AsyncDatabase, size: int, rng: np.random.Generator) -> None:
    """`size` face records in archives of PER_ARCHIVE, as the storage service writes them (the
    fields the index reads, and a record's others, which MongoDB reads past)."""
    existing = await db.detections.count_documents({})
    for video in range(existing // PER_ARCHIVE, size // PER_ARCHIVE):
        run = f"run-{video}"
        await db.videos.insert_one({"_id": video, "current_run": run, "camera_group": 1, "face_count": PER_ARCHIVE})
        vectors = rng.normal(0, 0.125, (PER_ARCHIVE, 128))
        records = [
            {
                "_id": f"detection-{video}-{run}-face-{n}-best-0",
                "video_id": video,
                "camera_group": 1,
                "run_id": run,
                "kind": "face",
                "track_id": str(n),
                "post": "best",
                "bbox": [0.0, 0.0, 80.0, 80.0],
                "quality": 0.9,
                "embedding": vector.tolist(),
            }
            for n, vector in enumerate(vectors)
        ]
        await db.detections.insert_many(records)


async def rebuild_seconds(db: AsyncDatabase) -> tuple[float, float]:
    """Wall-clock seconds of a rebuild, and the CPU seconds this process (the gateway's part) spent."""
    index = EmbeddedIndex(db)
    start, cpu = time.perf_counter(), time.process_time()
    await index.rebuild()
    took, used = time.perf_counter() - start, time.process_time() - cpu
    assert len(index) == await db.detections.count_documents({})
    return took, used


async def rebuilds(mongo_port: int) -> None:
    rng = np.random.default_rng(2)
    client = AsyncMongoClient(servers.HOST, mongo_port, **MONGO_ACCOUNT)
    print(f"\n{'face records':>14} {'rebuild s':>10} {'records/s':>10} {'gateway CPU s':>14} {'load average':>13}")
    for size in REBUILD_SIZES:
        await seed(client.vidar, size, rng)
        took, used = await rebuild_seconds(client.vidar)
        print(f"{size:>14,} {took:>10.1f} {size / took:>10,.0f} {used:>14.1f} {os.getloadavg()[0]:>13.2f}")
    await client.close()


async def main() -> None:
    rng = np.random.default_rng(1)
    print(f"{'face vectors':>14} {'p50 ms':>8} {'p95 ms':>8} {'index arrays MB':>16} {'RSS growth MB':>14}")
    for size in SIZES:
        row = await measure(size, rng)
        print(
            f"{size:>14,} {row['p50']:>8.1f} {row['p95']:>8.1f} {row['arrays_mb']:>16.0f} {row['rss_growth_mb']:>14.0f}"
        )
    with tempfile.TemporaryDirectory() as folder:
        ports = servers.Ports.free()
        with running([servers.mongo(ports, Path(folder), CREDENTIALS)], Path(folder) / "logs"):
            await rebuilds(ports.mongo)
    local = await measure_qdrant_local(QDRANT_LOCAL_SIZE, rng)
    print(f"\nQdrant local mode (qdrant-client in Python, not the server), {QDRANT_LOCAL_SIZE:,} face vectors:")
    print(f"p50 {local['p50']:.1f} ms, p95 {local['p95']:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
