"""A run on a grown database (issue 23): vtest's frames/s on a database of 100,000 archives and
1,000,000 detections, against the same run on an empty one (target: >= 90%).

Starts the whole stack as processes (one detector) and processes vtest.avi once to warm the
detector up (models loaded, caches filled: the measured runs differ in the database alone). Then,
on the database that run left (one archive), creates an archive through the API with bodies and
cars at their defaults, uploads vtest.avi, processes it and records the run's
`health_status.statistic.processing_fps`, the wall time from the process request to COMPLETED and
what it found. Then grows the same database as the
API and storage would have written it: copies of an API-made archive up to 100,000 archives, counts
and catalogue kept (`tests.bench.videos_api`), and 10,000 detection records (faces, bodies and
cars, with embeddings, box histories and attributes) in each of 100 of them, with the counts
storage keeps (`tests.bench.events_api`). vtest is then processed again in a new archive and the
two runs compared. The host's 1-minute load is printed at each run's start and end: a ratio
measured while it moved by more than LOAD_MOVED is flagged. `--archives` and `--detections` grow a
smaller database (SecantusDB inserted 85 to 200 events a second on this host). The target is
reported, not enforced, since the host may be shared.
"""

import argparse
import contextlib
import io
import math
import os
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from tests.bench import events_api, videos_api
from tests.bench.fullstack import FullStack, full_stack
from tests.polling import eventually
from vidar.health import ProcessingStatus
from vidar.models.stream_settings import DetectorType

ARCHIVES = 100_000
DETECTIONS = 1_000_000
EVENTS_PER_ARCHIVE = 10_000
TARGET_RATIO = 0.90
LOAD_MOVED = 0.25  # the share by which the load may move across both runs before a ratio is flagged
BODIES_AND_CARS: dict[str, Any] = {"detectors": {"body": {}, "car": {}}}
VTEST = Path(__file__).resolve().parents[2] / ".cache" / "videos" / "vtest.avi"
ENDED = (ProcessingStatus.COMPLETED, ProcessingStatus.FAILED, ProcessingStatus.STOPPED)
# events_api's mix of one archive of every kind (60% faces, 25% bodies, 15% cars), per archive.
EVENTS_OF_KIND: dict[DetectorType, int] = {
    kind: count * EVENTS_PER_ARCHIVE // events_api.EVENT_COUNT for kind, count in events_api.EVENTS_OF_KIND.items()
}


@dataclass(frozen=True)
class Run:
    fps: float
    wall_s: float
    bodies: int
    cars: int
    loads: tuple[float, float]  # 1-minute load at the process request and at COMPLETED


def new_archive(client: httpx.Client, name: str) -> int:
    created = client.post("/videos/", json={"camera_group": 1, "name": name, "stream_settings": BODIES_AND_CARS})
    assert created.status_code == 201, created.text
    video_id: int = created.json()["id"]
    return video_id


def status_of(client: httpx.Client, video_id: int) -> dict:
    archive: dict = client.get(f"/videos/{video_id}/").json()
    return archive


def ended(client: httpx.Client, video_id: int) -> dict | None:
    archive = status_of(client, video_id)
    return archive if archive["health_status"]["status"] in ENDED else None


def processed(client: httpx.Client, name: str) -> Run:
    """vtest uploaded to a new archive and processed; the figures of its run."""
    video_id = new_archive(client, name)
    headers = {"Content-Type": "video/x-msvideo"}
    uploaded = client.put(f"/videos/{video_id}/upload/source_file/", content=VTEST.read_bytes(), headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    load_before, started = os.getloadavg()[0], time.monotonic()
    response = client.post(f"/videos/{video_id}/process/")
    assert response.status_code == 200, response.text
    archive = eventually(lambda: ended(client, video_id), timeout=3600, what=f"{name} processed")
    wall_s, load_after = time.monotonic() - started, os.getloadavg()[0]
    assert archive["health_status"]["status"] == ProcessingStatus.COMPLETED, archive["health_status"]
    fps = float(archive["health_status"]["statistic"]["processing_fps"])
    run = Run(fps, wall_s, archive["body_count"], archive["car_count"], (load_before, load_after))
    print(
        f"{name}: {run.fps:.1f} frames/s, {run.wall_s:.1f} s, host load {load_before:.1f} -> {load_after:.1f}",
        flush=True,
    )
    return run


def grow(stack: FullStack, client: httpx.Client, archives: int, detections: int) -> int:
    """Copies of an API-made archive up to `archives`, then `detections` records (rounded up to
    EVENTS_PER_ARCHIVE) spread over the first copies; returns how many records were written."""
    template = new_archive(client, "grown template")
    eventually(
        lambda: status_of(client, template)["health_status"]["status"] == ProcessingStatus.NOT_STARTED,
        timeout=300,
        what="the template archive synced",
    )
    count = client.get("/videos/count/").json()["count"]
    names = [f"grown {number:06d}" for number in range(archives - count)]
    started = time.monotonic()
    copies = videos_api.clone_videos(
        stack.servers.ports.mongo, template, names, datetime.now(UTC), random.Random(23), burst=False
    )
    print(f"seeded {len(names):,} archive copies in {time.monotonic() - started:.0f} s", flush=True)
    started = time.monotonic()
    mongo: MongoClient[dict] = MongoClient(stack.mongo_url)
    with mongo:
        holders = sorted(copies.names)[: math.ceil(detections / EVENTS_PER_ARCHIVE)]
        videos = list(mongo["vidar"]["videos"].find({"_id": {"$in": holders}}, {"camera_group": 1}))
    for number, video in enumerate(videos, 1):
        add_events({"id": video["_id"], "camera_group": video["camera_group"]}, stack)
        if number % 10 == 0 or number == len(videos):
            print(f"{number * EVENTS_PER_ARCHIVE:,} detections in {time.monotonic() - started:.0f} s", flush=True)
    return len(videos) * EVENTS_PER_ARCHIVE


def add_events(video: dict, stack: FullStack) -> None:
    """EVENTS_PER_ARCHIVE records of `video` as storage stores them, and the counts it keeps."""
    start = datetime.now(UTC) - timedelta(days=events_api.SPREAD_DAYS)
    by_kind = {kind: events_api.records(video, kind, count, start) for kind, count in EVENTS_OF_KIND.items()}
    with contextlib.redirect_stdout(io.StringIO()):  # insert's progress, a line per batch
        events_api.insert(stack.gateway, [doc for docs in by_kind.values() for doc in docs])
    events_api.keep_counts(stack.gateway, video, by_kind)


def print_table(empty: Run, grown: Run, archives: int, detections: int) -> None:
    print(f"\nvtest.avi, bodies and cars, one detector; grown: {archives:,} archives, {detections:,} detections")
    print(f"{'database':<10}{'frames/s':>10}{'wall s':>9}{'bodies':>8}{'cars':>6}{'load':>14}")
    for name, run in (("empty", empty), ("grown", grown)):
        loads = f"{run.loads[0]:.1f} -> {run.loads[1]:.1f}"
        print(f"{name:<10}{run.fps:>10.1f}{run.wall_s:>9.1f}{run.bodies:>8}{run.cars:>6}{loads:>14}")
    ratio = grown.fps / empty.fps
    met = "met" if ratio >= TARGET_RATIO else "MISSED"
    readings = [*empty.loads, *grown.loads]
    moved = max(readings) > (1 + LOAD_MOVED) * min(readings)
    flag = f" (flagged: the host's load moved from {min(readings):.1f} to {max(readings):.1f})" if moved else ""
    print(f"\n{met}: grown/empty frames/s {ratio:.2f}, target >= {TARGET_RATIO:.2f}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", type=int, default=ARCHIVES)
    parser.add_argument("--detections", type=int, default=DETECTIONS)
    arguments = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="vidar-grown-") as tmp,
        full_stack(Path(tmp)) as stack,
        stack.api(timeout=120) as client,
    ):
        processed(client, "warm-up")
        empty = processed(client, "empty database")
        detections = grow(stack, client, arguments.archives, arguments.detections)
        grown = processed(client, "grown database")
    print_table(empty, grown, arguments.archives, detections)


if __name__ == "__main__":
    main()
