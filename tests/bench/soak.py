"""Soak: minutes of mixed load on the whole stack, with one process killed -9 every minute.

Uploads of real videos (carphone, faces only; vtest, faces, bodies and cars) each followed by a
process request, re-processing of finished archives, archive lists and counts with random filters
and orderings, face event lists, and searches (POST /detect/ with a photograph, then
`looks_like=detection:<id>`), while every minute one process chosen at random (a server or a
service) is killed -9 and started again at once, as supervisord does under `make run`. When the
load stops, the archives get --drain-minutes to end their runs and cluster their detections; then
the whole events stream is read from its start and checked against the archives and storage's
records (tests/bench/accounting.py). Prints the kills, the latencies of the requests made during
the load, each process's RSS in the first and the last minute, and the runs' accounts; exits 1
when an event was lost or duplicated, an archive is stuck or a run's detections were never
clustered, keeping the logs. `make bench` runs 30 minutes; `python -m tests.bench.soak --minutes 3`
a short one.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import numpy as np
import psutil
import tenacity
from nats.js.api import DeliverPolicy
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from tests.bench.accounting import (
    DETECTION_PREFIX,
    ENDINGS,
    PROBLEMS,
    ArchiveOutcome,
    Finding,
    StreamedEvent,
    account,
    totals,
)
from tests.bench.fullstack import FullStack, full_stack
from tests.stack import consumer_caught_up
from vidar import archive, documents
from vidar.bus import EVENTS_STREAM, STORAGE_DETECTIONS
from vidar.health import ClusteringState, ProcessingStatus

VIDEOS = Path(__file__).resolve().parents[2] / ".cache" / "videos"
FACE_PHOTO = VIDEOS / "faces" / "obama.jpg"
ALL_KINDS: dict[str, Any] = {"detectors": {"face": {}, "body": {}, "car": {}}}
# name -> (file, content type, stream_settings); carphone (a face, 4 s) three times in four.
CLIPS = {
    "carphone": (VIDEOS / "carphone_pristine.mp4", "video/mp4", {}),
    "vtest": (VIDEOS / "vtest.avi", "video/x-msvideo", ALL_KINDS),
}
CLIP_WEIGHTS = {"carphone": 3, "vtest": 1}
KILL_INTERVAL_S = 60
UPLOAD_INTERVAL_S = 15
# Own archives queued or processing at once, beyond which the uploader waits: the queue must not
# outgrow what the drain can finish.
MAX_BUSY = 3
REPROCESS_SHARE = 0.25
LIST_CLIENTS = 2
LIST_PAUSE_S = 0.5
EVENTS_PAUSE_S = 1.0
SEARCH_EVERY = 5  # one detect-and-search in this many event requests
RSS_PERIOD_S = 5
RSS_WINDOW_S = 60
# How long an essential request (create, upload, process) is retried through a kill.
PERSIST_S = 180
STATUS_SETS = ["COMPLETED", "INPROGRESS,QUEUED", "FAILED,STOPPED", "NOT_STARTED"]
ORDERINGS = ["-id", "id", "-created_date", "created_date", "name", "-name"]
EVENT_ORDERINGS = ["-created_date", "created_date", "-quality", "-timestamp"]


@dataclass
class Recorder:
    """Latencies of successful requests and failures, by label; thread-safe."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, client: httpx.Client, label: str, method: str, url: str, **kwargs) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = client.request(method, url, **kwargs)
        except httpx.HTTPError:
            response = None
        took = time.perf_counter() - started
        with self.lock:
            if response is not None and response.is_success:
                self.latencies[label].append(took)
            else:
                self.failures[label] += 1
        return response


# The soak's own reads of MongoDB, retried while the server is killed and started again.
through_kills = tenacity.retry(
    retry=tenacity.retry_if_exception_type(PyMongoError),
    stop=tenacity.stop_after_delay(PERSIST_S),
    wait=tenacity.wait_fixed(1),
    reraise=True,
)


@dataclass
class Soak:
    stack: FullStack
    rng: random.Random
    until: float
    targets: list[str]
    recorder: Recorder = field(default_factory=Recorder)
    # Archive -> its current run before its last granted process request.
    granted: dict[int, str | None] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    finished: set[int] = field(default_factory=set)
    kills: list[tuple[float, str, float]] = field(default_factory=list)
    rss: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))
    started: float = field(default_factory=time.monotonic)
    crashes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def running(self) -> bool:
        return time.monotonic() < self.until

    def guarded(self, loop: Callable[[], None]) -> Callable[[], None]:
        """`loop`, ending the whole soak if it fails: a process that does not come back after a
        kill, or the harness's own error."""

        def run() -> None:
            try:
                loop()
            except Exception:
                self.crashes.append(f"{loop.__name__}: {traceback.format_exc()}")
                self.until = time.monotonic()

        return run

    def pause(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.until - time.monotonic())))

    # The uploader: new archives, and runs of finished ones.

    def upload_loop(self) -> None:
        with (
            self.stack.api(timeout=120) as client,
            MongoClient[dict[str, Any]](self.stack.mongo_url, tz_aware=True) as mongo,
        ):
            while self.running():
                if len(self.busy(mongo)) < MAX_BUSY:
                    finished = self.finished_archive()
                    if finished is not None and self.rng.random() < REPROCESS_SHARE:
                        self.reprocess(client, mongo, finished)
                    else:
                        self.upload_and_process(client, self.rng.choices(*zip(*CLIP_WEIGHTS.items(), strict=True))[0])
                self.pause(UPLOAD_INTERVAL_S)

    @through_kills
    def busy(self, mongo: MongoClient[dict[str, Any]]) -> list[int]:
        """Own archives whose granted run has not begun and ended; the others join `finished`."""
        fields = {documents.STATUS: 1, documents.CURRENT_RUN: 1}
        docs = mongo["vidar"][archive.VIDEOS].find({"_id": {"$in": list(self.granted)}}, fields)
        ended = {
            doc["_id"]
            for doc in docs
            if doc["health_status"]["status"] in ENDINGS and doc.get(documents.CURRENT_RUN) != self.granted[doc["_id"]]
        }
        with self.lock:
            self.finished |= ended
            return [video_id for video_id in self.granted if video_id not in ended]

    def finished_archive(self) -> int | None:
        with self.lock:
            return self.rng.choice(sorted(self.finished)) if self.finished else None

    def upload_and_process(self, client: httpx.Client, clip: str) -> None:
        path, content_type, settings = CLIPS[clip]
        body = {"camera_group": 1, "name": f"soak {clip}", "stream_settings": settings}
        created = self.persist(client, "POST /videos/", "POST", "/videos/", json=body)
        if created is None or created.status_code != 201:
            return
        video_id = created.json()["id"]
        headers = {"Content-Type": content_type}
        upload_url = f"/videos/{video_id}/upload/source_file/"
        uploaded = self.persist(client, "PUT upload", "PUT", upload_url, content=path.read_bytes(), headers=headers)
        if uploaded is not None and uploaded.status_code == 201:
            self.process(client, video_id, run_before=None)

    @through_kills
    def current_run(self, mongo: MongoClient[dict[str, Any]], video_id: int) -> str | None:
        doc = mongo["vidar"][archive.VIDEOS].find_one({"_id": video_id}, {documents.CURRENT_RUN: 1})
        assert doc is not None, f"video {video_id} is gone"
        return doc.get(documents.CURRENT_RUN)

    def reprocess(self, client: httpx.Client, mongo: MongoClient[dict[str, Any]], video_id: int) -> None:
        run_before = self.current_run(mongo, video_id)
        with self.lock:
            self.finished.discard(video_id)
        self.process(client, video_id, run_before)

    def process(self, client: httpx.Client, video_id: int, run_before: str | None) -> None:
        """Ask for a run; granted when answered 200, or 409 (busy) after an attempt whose answer was lost."""
        uncertain = False
        deadline = time.monotonic() + PERSIST_S
        while time.monotonic() < deadline:
            response = self.recorder.request(client, "POST process", "POST", f"/videos/{video_id}/process/")
            if response is not None and response.status_code < 500:
                if response.status_code == 200 or (response.status_code == 409 and uncertain):
                    with self.lock:
                        self.granted[video_id] = run_before
                else:
                    self.refused.append(f"video {video_id}: {response.status_code} {response.text}")
                return
            uncertain = True
            time.sleep(1)
        self.refused.append(f"video {video_id}: no answer to POST process/ in {PERSIST_S} s")

    def persist(self, client: httpx.Client, label: str, method: str, url: str, **kwargs) -> httpx.Response | None:
        """The first answer other than a 5xx, retried through a killed process."""
        deadline = time.monotonic() + PERSIST_S
        while time.monotonic() < deadline:
            response = self.recorder.request(client, label, method, url, **kwargs)
            if response is not None and response.status_code < 500:
                return response
            time.sleep(1)
        return None

    # Readers: lists, counts, events and searches.

    def list_loop(self) -> None:
        with self.stack.api() as client:
            while self.running():
                path, params = self.video_query()
                filtered = set(params) - {"ordering", "limit"}
                label = f"GET {path}{' filtered' if filtered else ''}"
                self.recorder.request(client, label, "GET", path, params=params)
                self.pause(LIST_PAUSE_S)

    def video_query(self) -> tuple[str, dict[str, str]]:
        """A list or count with 0 to 3 of the filters a user combines, in a random ordering."""
        filters = {
            "camera_groups": lambda: "1",
            "status_in": lambda: self.rng.choice(STATUS_SETS),
            "name_contains": lambda: self.rng.choice(list(CLIPS)),
            "created_date_nth_work_week": lambda: "1",
            "case_in": lambda: "1",
        }
        chosen = self.rng.sample(sorted(filters), self.rng.randint(0, 3))
        params = {name: filters[name]() for name in chosen}
        if self.rng.random() < 0.2:
            return "/videos/count/", params
        return "/videos/", params | {"ordering": self.rng.choice(ORDERINGS), "limit": "20"}

    def events_loop(self) -> None:
        with self.stack.api() as client:
            requests = 0
            while self.running():
                requests += 1
                if requests % SEARCH_EVERY == 0:
                    self.detect_and_search(client)
                else:
                    self.list_events(client)
                self.pause(EVENTS_PAUSE_S)

    def list_events(self, client: httpx.Client) -> None:
        params = {"ordering": self.rng.choice(EVENT_ORDERINGS), "limit": "20"}
        finished = self.finished_archive()
        if finished is not None and self.rng.random() < 0.5:
            params["video_archive"] = str(finished)
        self.recorder.request(client, "GET /events/faces/", "GET", "/events/faces/", params=params)

    def detect_and_search(self, client: httpx.Client) -> None:
        photo = {"content": FACE_PHOTO.read_bytes(), "headers": {"Content-Type": "image/jpeg"}}
        detected = self.recorder.request(client, "POST /detect/", "POST", "/detect/", **photo)
        if detected is None or not detected.is_success or not detected.json()["objects"]["face"]:
            return
        looks_like = f"detection:{detected.json()['objects']['face'][0]['id']}"
        params = {"looks_like": looks_like, "limit": "20"}
        self.recorder.request(client, "GET /events/faces/ looks_like", "GET", "/events/faces/", params=params)

    # Faults and measurements.

    def kill_loop(self) -> None:
        """A kill at each whole minute of the load, however long the restarts take."""
        for minute in itertools.count(1):
            self.pause(self.started + minute * KILL_INTERVAL_S - time.monotonic())
            if not self.running():
                return
            name = self.rng.choice(self.targets)
            at = time.monotonic() - self.started
            self.stack.kill_and_restart(name)
            back_after = time.monotonic() - self.started - at
            print(f"{at:6.0f} s  kill -9 {name}: answering again after {back_after:.1f} s", flush=True)
            self.kills.append((at, name, back_after))

    def rss_loop(self) -> None:
        while self.running():
            at = time.monotonic() - self.started
            for name in self.stack.names:
                with contextlib.suppress(psutil.Error, StopIteration, AssertionError):  # being restarted
                    self.rss[name].append((at, self.stack.process(name).memory_info().rss))
            self.pause(RSS_PERIOD_S)


def drain(stack: FullStack, video_ids: list[int], timeout: float) -> float:
    """Seconds until every archive has ended its run and, when completed, clustered every kind;
    then until storage has recorded every detection. `timeout` when it never happens."""
    started = time.monotonic()
    deadline = started + timeout
    with MongoClient[dict[str, Any]](stack.mongo_url, tz_aware=True) as mongo:
        videos = mongo["vidar"][archive.VIDEOS]
        while time.monotonic() < deadline:
            if all(map(settled, videos.find({"_id": {"$in": video_ids}}, {"health_status": 1}))):
                break
            time.sleep(2)
    while time.monotonic() < deadline and not consumer_caught_up(stack.nats_url, STORAGE_DETECTIONS):
        time.sleep(2)
    return time.monotonic() - started


def settled(doc: dict) -> bool:
    health = doc["health_status"]
    if health["status"] != ProcessingStatus.COMPLETED:
        return health["status"] in ENDINGS
    clustering = health["statistic"].get("clustering", {})
    return bool(clustering) and all(kind["state"] == ClusteringState.DONE for kind in clustering.values())


async def read_stream(nats_url: str) -> list[StreamedEvent]:
    """Every message of the events stream, from its first, with an ordered consumer."""
    connection = await nats.connect(nats_url)
    try:
        stream = connection.jetstream()
        last = (await stream.stream_info(EVENTS_STREAM.name)).state.last_seq
        subscription = await stream.subscribe(
            ">", stream=EVENTS_STREAM.name, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        events, sequence = [], 0
        while sequence < last:
            message = await subscription.next_msg(timeout=30)
            sequence = message.metadata.sequence.stream
            envelope = json.loads(message.data)
            events.append(StreamedEvent(message.subject, envelope["event_id"], envelope["payload"]))
        return events
    finally:
        await connection.close()


def outcomes(stack: FullStack, video_ids: list[int]) -> tuple[dict, dict]:
    """The archives as they ended, and storage's detection ids by run and kind."""
    with MongoClient[dict[str, Any]](stack.mongo_url, tz_aware=True) as mongo:
        database = mongo["vidar"]
        archives = {
            doc["_id"]: ArchiveOutcome(
                doc["_id"], ProcessingStatus(doc["health_status"]["status"]), doc.get(documents.CURRENT_RUN)
            )
            for doc in database[archive.VIDEOS].find({"_id": {"$in": video_ids}})
        }
        stored: dict[tuple[str, str], set[str]] = defaultdict(set)
        for doc in database[archive.DETECTIONS].find({"video_id": {"$in": video_ids}}, {"run_id": 1, "kind": 1}):
            stored[doc["run_id"], doc["kind"]].add(doc["_id"])
    return archives, stored


def print_latencies(recorder: Recorder) -> None:
    print(f"\n{'request':<42} {'ok':>6} {'failed':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    print("-" * 83)
    for label in sorted(set(recorder.latencies) | set(recorder.failures)):
        took = np.array(recorder.latencies[label]) * 1000
        p50, p95, most = np.percentile(took, [50, 95, 100]) if len(took) else (np.nan,) * 3
        print(f"{label:<42} {len(took):>6} {recorder.failures[label]:>7} {p50:>8.0f} {p95:>8.0f} {most:>8.0f}")


def print_rss(soak: Soak, load_s: float) -> None:
    print(f"\n{'process':<12} {'kills':>6} {'first min MB':>13} {'last min MB':>12} {'growth MB':>10}")
    print("-" * 57)
    killed = Counter(name for _, name, _ in soak.kills)
    for name in soak.stack.names:
        samples = soak.rss[name]
        first = [rss for at, rss in samples if at < RSS_WINDOW_S]
        last = [rss for at, rss in samples if at >= load_s - RSS_WINDOW_S]
        first_mb, last_mb = (np.mean(values) / 2**20 if values else np.nan for values in (first, last))
        print(f"{name:<12} {killed[name]:>6} {first_mb:>13.0f} {last_mb:>12.0f} {last_mb - first_mb:>10.0f}")


def print_accounts(
    archives: dict[int, ArchiveOutcome], findings: list[Finding], events: list[StreamedEvent], drained: float
) -> None:
    by_status = Counter(outcome.status for outcome in archives.values())
    print(f"\narchives asked to process: {len(archives)} ({', '.join(f'{n} {s}' for s, n in by_status.items())})")
    runs = {event.payload.get("run_id") for event in events} - {None}
    detections = sum(event.subject.startswith(DETECTION_PREFIX) for event in events)
    print(f"events in the stream: {len(events)}, of {len(runs)} runs, {detections} of them detections")
    print(f"the archives settled {drained:.0f} s after the load stopped")
    counted = totals(findings)
    print(f"\n{'rule':<12} {'broken':>7}")
    print("-" * 20)
    for problem in PROBLEMS:
        print(f"{problem:<12} {counted[problem]:>7}")
    for finding in findings[:40]:
        print(f"  {finding.problem}: {finding.what} ({finding.count})")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30, help="how long the load and the kills last")
    parser.add_argument("--drain-minutes", type=float, default=10, help="how long runs may take to end afterwards")
    parser.add_argument("--detectors", type=int, default=1, help="detector processes (make run has one)")
    parser.add_argument("--seed", type=int, default=24, help="the random choices of clips, queries and kills")
    parser.add_argument("--kill", nargs="+", metavar="PROCESS", help="the processes to choose from (default: all)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="vidar-soak-"))
    with full_stack(work_dir, detectors=args.detectors) as stack:
        load_s = args.minutes * 60
        targets = args.kill or stack.names
        if unknown := set(targets) - set(stack.names):
            sys.exit(f"--kill: no process named {', '.join(sorted(unknown))}; there are {', '.join(stack.names)}")
        soak = Soak(stack, random.Random(args.seed), until=time.monotonic() + load_s, targets=targets)
        print(f"{args.minutes:g} minutes of load; one kill -9 every {KILL_INTERVAL_S} s of one of {', '.join(targets)}")
        loops: list[Callable[[], None]] = [soak.upload_loop, soak.events_loop, soak.kill_loop, soak.rss_loop]
        loops += [soak.list_loop] * LIST_CLIENTS
        threads = [threading.Thread(target=soak.guarded(loop), name=loop.__name__) for loop in loops]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if soak.crashes:
            sys.exit("the soak stopped early:\n" + "\n".join(soak.crashes) + f"\nlogs kept in {work_dir}")
        video_ids = sorted(soak.granted)
        drained = drain(stack, video_ids, args.drain_minutes * 60)
        events = asyncio.run(read_stream(stack.nats_url))
        archives, stored = outcomes(stack, video_ids)
        findings = account(events, archives, stored, soak.granted)
        print_latencies(soak.recorder)
        print_rss(soak, load_s)
        print_accounts(archives, findings, events, drained)
        for refusal in soak.refused:
            print(f"  refused: {refusal}")
    broken = sum(totals(findings).values())
    if broken:
        sys.exit(f"{broken} broken: the servers' and services' logs are kept in {work_dir}")
    shutil.rmtree(work_dir)
    print("\nNo event lost or duplicated, no archive stuck. The host may be shared: compare latencies within one run.")


if __name__ == "__main__":
    main()
