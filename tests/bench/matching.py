"""Matching (issue 27, part 7), two parts (`python -m tests.bench.matching [latency] [cost]`).

latency: one posted object against the record index, as the gateway's matcher compares each
(`RecordIndex.best`, through `VectorIndex` on the embedded engine): faces (128-D) and bodies
(1,280-D, as cars) against 10,000 and 1,000,000 objects, each record on one of 10 watch lists at
the default thresholds; p50/p95 over 200 events (50 against a million), the events one core
matches a second, and the memory the index holds: its matrix, and the resident memory the
process grew by (ids, each object's record and lists). The events are strangers (no match: the
whole index is compared, the usual case). On 1 BLAS thread, as a gateway shares its cores. The
Qdrant engine is not measured: its server does not install here, and its local mode is a brute
force in Python, no measure of the server's HNSW index.

cost: the whole stack (tests/bench/fullstack.py) processes vtest.avi with faces, bodies and cars
at their defaults, first with no records, then with 10,000 active records of each kind on an
active list (inserted into MongoDB, as the stores write them, with random embeddings), the record
index loaded before the run (a face posted for no archive). The
goal: matching costs at most 5% of the detector's frames/s. On a shared host frames/s move with
the neighbours' load, so the share is also given as CPU time: what the gateway spent more with
the records, over what the detector spent on the run.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import asyncio
import gc
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import numpy as np
import psutil
from pymongo import MongoClient

from tests.bench.fullstack import FullStack, full_stack
from tests.polling import eventually
from tests.stack import consumer_caught_up
from vidar import subjects
from vidar.bus import EVENTS_STREAM
from vidar.health import ProcessingStatus
from vidar.models.detection_events import ObjectType
from vidar.models.events import Envelope
from vidar.models.jobs import DetectionPosted
from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar_gateway.records.cards.store import COLLECTIONS as CARD_COLLECTIONS
from vidar_gateway.records.index import ListRule, RecordIndex
from vidar_gateway.records.matching import DURABLE
from vidar_gateway.records.objects.layout import COLLECTIONS as OBJECT_COLLECTIONS
from vidar_gateway.records.revision import REVISION
from vidar_gateway.search.index import DIMENSIONS, MatrixIndex
from vidar_gateway.search.matrix import VectorMatrix

# Kind, records, events timed.
ROWS: tuple[tuple[DetectorType, int, int], ...] = (
    ("face", 10_000, 200),
    ("face", 1_000_000, 50),
    ("body", 10_000, 200),
    ("body", 1_000_000, 50),
)
LISTS = 10
CHUNK = 10_000
THRESHOLDS: dict[DetectorType, float] = {"face": 0.5, "body": 0.85, "car": 0.85}
MB = 1024**2


def vectors(rng: np.random.Generator, kind: DetectorType, count: int) -> np.ndarray:
    """dlib-like faces (norm about 1.41); unit appearance vectors for bodies."""
    if kind == "face":
        return rng.normal(0, 0.125, (count, 128)).astype(np.float32)
    raw = rng.standard_normal((count, DIMENSIONS[kind]), np.float32)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def record_index(rng: np.random.Generator, kind: DetectorType, records: int) -> tuple[RecordIndex, MatrixIndex]:
    """`records` records of one object each, on lists covering every camera group, held as the
    embedded engine holds them (one matrix of the exact size, one group)."""
    lists = {n: ListRule(n, frozenset(), dict(THRESHOLDS)) for n in range(LISTS)}
    matrices = {other: VectorMatrix(DIMENSIONS[other]) for other in DETECTOR_TYPES}
    matrices[kind] = VectorMatrix(DIMENSIONS[kind], records)
    for start in range(0, records, CHUNK):
        matrices[kind].add(0, [str(n) for n in range(start, start + CHUNK)], vectors(rng, kind, CHUNK))
    card_of = {str(n): n for n in range(records)}
    lists_of_card: dict[DetectorType, dict[int, tuple[int, ...]]] = {other: {} for other in DETECTOR_TYPES}
    lists_of_card[kind] = {n: (n % LISTS,) for n in range(records)}
    held = MatrixIndex(matrices)
    return RecordIndex(lists, lists_of_card, held, card_of, revision=0), held


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


async def timed(index: RecordIndex, kind: DetectorType, events: np.ndarray) -> list[float]:
    took = []
    for event in events:
        started = time.perf_counter()
        assert await index.best(kind, 1, event) is None
        took.append(time.perf_counter() - started)
    return took


def latency() -> None:
    rng = np.random.default_rng(27)
    print(f"Match latency, load average {os.getloadavg()[0]:.1f}")
    print(f"{'kind':<6}{'records':>11}{'p50 ms':>9}{'p95 ms':>9}{'events/s':>10}{'matrix MB':>11}{'RSS MB':>8}")
    for kind, records, events in ROWS:
        gc.collect()
        before = resident_mb()
        index, held = record_index(rng, kind, records)
        added = resident_mb() - before
        took = asyncio.run(timed(index, kind, vectors(rng, kind, events)))
        p50, p95 = np.percentile(took, [50, 95]) * 1000
        row = f"{kind:<6}{records:>11,}{p50:>9.2f}{p95:>9.2f}{len(took) / sum(took):>10,.1f}"
        print(f"{row}{held.nbytes / MB:>11,.0f}{added:>8,.0f}", flush=True)
        del index, held


VTEST = Path(__file__).resolve().parents[2] / ".cache" / "videos" / "vtest.avi"
ALL_KINDS = {"detectors": {"face": {}, "body": {}, "car": {}}}
COST_RECORDS = 10_000
# The seeded records' and objects' ids: far above those the API gives.
FIRST_SEEDED_ID = 10_000_000
MAX_SHARE = 0.05
PARTS = ("latency", "cost")


@dataclass(frozen=True)
class Run:
    fps: float
    events: int
    detector_cpu_s: float
    gateway_cpu_s: float


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def processed(stack: FullStack, client: httpx.Client, name: str) -> Run:
    """vtest processed once, its events matched (the matching consumer caught up)."""
    detector, gateway = stack.process("detector-1"), stack.process("gateway")
    detector_before, gateway_before = cpu_seconds(detector), cpu_seconds(gateway)
    created = client.post("/videos/", json={"camera_group": 1, "name": name, "stream_settings": ALL_KINDS})
    assert created.status_code == 201, created.text
    video_id = created.json()["id"]
    headers = {"Content-Type": "video/x-msvideo"}
    uploaded = client.put(f"/videos/{video_id}/upload/source_file/", content=VTEST.read_bytes(), headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    started = client.post(f"/videos/{video_id}/process/")
    assert started.status_code == 200, started.text
    archive = eventually(lambda: finished(client, video_id), timeout=3600, what=f"{name} processed")
    assert archive["health_status"]["status"] == ProcessingStatus.COMPLETED, archive["health_status"]
    eventually(lambda: consumer_caught_up(stack.nats_url, DURABLE), timeout=600, what="the events matched")
    events = MongoClient(stack.mongo_url)["vidar"]["detections"].count_documents({"video_id": video_id})
    fps = float(archive["health_status"]["statistic"]["processing_fps"])
    return Run(fps, events, cpu_seconds(detector) - detector_before, cpu_seconds(gateway) - gateway_before)


def finished(client: httpx.Client, video_id: int) -> dict | None:
    archive = client.get(f"/videos/{video_id}/").json()
    ended = archive["health_status"]["status"] in (
        ProcessingStatus.COMPLETED,
        ProcessingStatus.FAILED,
        ProcessingStatus.STOPPED,
    )
    return archive if ended else None


def seed_records(stack: FullStack, client: httpx.Client) -> None:
    """COST_RECORDS active human records with a face and a body each, and as many car records with a
    car, on one active list covering every camera group; the revision moved, as the stores move it."""
    created = client.post("/watch-lists/", json={"name": "matching cost"})
    assert created.status_code == 201, created.text
    db = MongoClient(stack.mongo_url)["vidar"]
    rng = np.random.default_rng(7)
    ids = range(FIRST_SEEDED_ID, FIRST_SEEDED_ID + COST_RECORDS)
    for card_type in CARD_COLLECTIONS:
        cards = [{"_id": n, "name": f"record {n}", "active": True, "watch_lists": [created.json()["id"]]} for n in ids]
        db[CARD_COLLECTIONS[card_type]].insert_many(cards)
    for object_type in ObjectType:
        for start in range(0, COST_RECORDS, 1000):
            embeddings = vectors(rng, object_type.kind, 1000)
            objects = [
                {"_id": n, "card": n, "active": True, "embedding": embedding.tolist()}
                for n, embedding in zip(ids[start : start + 1000], embeddings, strict=True)
            ]
            db[OBJECT_COLLECTIONS[object_type]].insert_many(objects)
    db["counters"].update_one(REVISION, {"$inc": {"value": 1}}, upsert=True)


async def load_record_index(stack: FullStack) -> None:
    """One face posted for no archive, so that the gateway loads its record index before the run:
    the run measures matching, not the one load of 30,000 objects."""
    posted = DetectionPosted(
        video_id=0,
        camera_group=1,
        run_id="warm-up",
        kind="face",
        track_id="0",
        post="best",
        bbox=(0, 0, 10, 10),
        frame=0,
        stream_time=0,
        timestamp=0,
        quality=0.9,
        embedding=vectors(np.random.default_rng(1), "face", 1)[0].tolist(),
    )
    subject = subjects.detection("face")
    connection = await nats.connect(stack.nats_url)
    try:
        body = Envelope(type=subject, payload=posted, event_id=posted.event_id).model_dump_json()
        await connection.jetstream().publish(subject, body.encode(), stream=EVENTS_STREAM.name)
    finally:
        await connection.close()


def cost() -> None:
    print(f"\nMatching's cost end to end: vtest.avi, faces, bodies and cars, load average {os.getloadavg()[0]:.1f}")
    with (
        tempfile.TemporaryDirectory(prefix="vidar-matching-") as data_dir,
        full_stack(Path(data_dir)) as stack,
        stack.api(timeout=120) as client,
    ):
        runs = {"no records": processed(stack, client, "no records")}
        seed_records(stack, client)
        asyncio.run(load_record_index(stack))
        eventually(lambda: consumer_caught_up(stack.nats_url, DURABLE), timeout=600, what="the record index loaded")
        runs[f"{COST_RECORDS:,} records a kind"] = processed(stack, client, "with records")
    print(f"{'':<22}{'frames/s':>9}{'events':>8}{'detector CPU s':>16}{'gateway CPU s':>15}{'load':>6}")
    for name, run in runs.items():
        row = f"{name:<22}{run.fps:>9.1f}{run.events:>8,}{run.detector_cpu_s:>16.1f}{run.gateway_cpu_s:>15.1f}"
        print(f"{row}{os.getloadavg()[0]:>6.1f}")
    without, with_records = runs.values()
    share = (with_records.gateway_cpu_s - without.gateway_cpu_s) / with_records.detector_cpu_s
    print(f"frames/s with records / without: {with_records.fps / without.fps:.3f} (goal >= {1 - MAX_SHARE:.2f})")
    print(f"matching's CPU / the detector's: {share:.3f} (goal <= {MAX_SHARE:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", help="latency, cost, or both (the default)")
    parts = parser.parse_args().parts or PARTS
    if unknown := set(parts) - set(PARTS):
        parser.error(f"no such part: {', '.join(sorted(unknown))}")
    if "latency" in parts:
        latency()
    if "cost" in parts:
        cost()


if __name__ == "__main__":
    main()
