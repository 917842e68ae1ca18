"""Latency of the detection events API for an archive with 10,000 stored face events.

Creates one archive through the API, bulk-inserts 10,000 face records into MongoDB as the
storage service writes them (a 128-D embedding and a box history each: the hidden fields weigh
on every read), with one thumbnail in S3, then drives each endpoint with wrk and prints
requests/s, p50 and p95. Run by `make bench` (which installs wrk).
"""

import random
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr
from pymongo import MongoClient

from tests.bench.wrk import WRK_SCRIPT, print_results, run_wrk
from tests.stack import MONGO_ACCOUNT, S3_ACCESS_KEY, S3_SECRET_KEY, Gateway, gateway, servers
from vidar import archive
from vidar.devstack.servers import HOST
from vidar.models.jobs import DetectionPosted
from vidar.objectstore import ObjectStore
from vidar.settings import VidarSettings

EVENT_COUNT = 10_000
TRACK_LENGTH = 20  # events per track: one best post and realtime posts
CLUSTER_COUNT = 40
SPREAD_DAYS = 30
LIST_LIMIT = 20
QUALITY_FLOOR = 0.9
# One client at a time: these are latencies, and SecantusDB (the embedded MongoDB-wire server)
# answers one request at a time, so more connections only queue (16 put p50 at 10 s).
CONNECTIONS = 1
THUMBNAIL = Path(".cache/videos/faces/obama.jpg")  # a real photograph, from tests/data/fetch_videos.sh


def records(video: dict, rng: random.Random) -> list[dict]:
    """EVENT_COUNT face records of one run, as the storage service stores detection.face."""
    run_id = "bench-events"
    start = datetime.now(UTC) - timedelta(days=SPREAD_DAYS)
    docs = []
    for sequence in range(EVENT_COUNT):
        track = sequence // TRACK_LENGTH
        posted = DetectionPosted(
            video_id=video["id"],
            camera_group=video["camera_group"],
            run_id=run_id,
            kind="face",
            track_id=f"1-{track}",
            post="best" if sequence % TRACK_LENGTH == 0 else "realtime",
            sequence=sequence,
            bbox=(10.0, 12.0, 90.0, 110.0),
            frame=sequence,
            stream_time=sequence / 25,
            timestamp=sequence / 25,
            quality=rng.random(),
            thumbnail_key=archive.detection_images(video["id"], run_id, "thumbnail.jpg"),
            full_frame_key=archive.detection_images(video["id"], run_id, "thumbnail.jpg"),
            history=[(index / 25, 10.0, 12.0, 90.0, 110.0) for index in range(TRACK_LENGTH)],
            embedding=[rng.gauss(0, 0.1) for _ in range(128)],
        )
        created = start + timedelta(seconds=rng.uniform(0, SPREAD_DAYS * 86400))
        created = created.replace(microsecond=created.microsecond // 1000 * 1000)
        docs.append(
            {"_id": posted.event_id, **posted.model_dump(), "created_date": created, "cluster": track % CLUSTER_COUNT}
        )
    return docs


def seed(gw: Gateway) -> tuple[dict, list[dict]]:
    with gw.client() as client:
        response = client.post("/videos/", json={"camera_group": 1, "name": "ten thousand faces"})
    assert response.status_code == 201, response.text
    video = response.json()
    docs = records(video, random.Random(20261124))
    with MongoClient(HOST, gw.ports.mongo, tz_aware=True, **MONGO_ACCOUNT) as mongo:
        mongo["vidar"][archive.DETECTIONS].insert_many(docs)
    store = ObjectStore(
        VidarSettings(
            s3_endpoint=f"{HOST}:{gw.ports.s3}", s3_access_key=S3_ACCESS_KEY, s3_secret_key=SecretStr(S3_SECRET_KEY)
        )
    )
    store.write(docs[0]["thumbnail_key"], THUMBNAIL.read_bytes(), "image/jpeg")
    return video, docs


def endpoints(gw: Gateway, video: dict, docs: list[dict]) -> dict[str, str]:
    """name -> path, each answer checked against the seeded records so a broken one is not timed."""
    mine = {"video_archive": video["id"], "limit": LIST_LIMIT}
    best_of_cluster = {**mine, "cluster": 3, "quality_gte": QUALITY_FLOOR, "ordering": "-quality"}
    in_cluster = sorted(
        (d for d in docs if d["cluster"] == 3 and d["quality"] >= QUALITY_FLOOR), key=lambda d: -d["quality"]
    )
    newest = sorted(docs, key=lambda d: (d["created_date"], d["_id"]), reverse=True)
    first = docs[0]["_id"]
    with gw.client() as client:
        page_50 = {**mine, "page": _cursor(client, mine, pages=50)}
        expected = {
            "list newest": ([d["_id"] for d in newest[:LIST_LIMIT]], mine),
            "list page 50": ([d["_id"] for d in newest[49 * LIST_LIMIT : 50 * LIST_LIMIT]], page_50),
            "list cluster by quality": ([d["_id"] for d in in_cluster[:LIST_LIMIT]], best_of_cluster),
        }
        for name, (ids, params) in expected.items():
            answer = client.get("/events/faces/", params=params)
            assert [row["id"] for row in answer.json()["results"]] == ids, name
        counts = {"count": (EVENT_COUNT, mine), "count cluster by quality": (len(in_cluster), best_of_cluster)}
        for name, (number, params) in counts.items():
            params = {key: value for key, value in params.items() if key not in ("limit", "ordering")}
            assert client.get("/events/faces/count/", params=params).json() == {"count": number}, name
        assert client.get(f"/events/faces/{first}/thumbnail/").content == THUMBNAIL.read_bytes()
    paths = {name: "/events/faces/?" + urlencode(params) for name, (_, params) in expected.items()}
    for name, (_, params) in counts.items():
        params = {key: value for key, value in params.items() if key not in ("limit", "ordering")}
        paths[name] = "/events/faces/count/?" + urlencode(params)
    return paths | {"one event": f"/events/faces/{first}/", "thumbnail": f"/events/faces/{first}/thumbnail/"}


def _cursor(client: httpx.Client, params: dict, pages: int) -> str:
    """The `page` value that opens page number `pages`, reached by following next_page."""
    cursor = None
    for _ in range(pages - 1):
        cursor = client.get("/events/faces/", params={**params, "page": cursor} if cursor else params).json()[
            "next_page"
        ]
        assert cursor, "fewer pages than expected"
    return cursor


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run `make bench`, which installs it")
    with tempfile.TemporaryDirectory(prefix="vidar-bench-") as tmp:
        work_dir = Path(tmp)
        (work_dir / "logs").mkdir()
        with servers(work_dir / "servers") as ports, gateway(ports, work_dir / "logs") as gw:
            video, docs = seed(gw)
            print(f"seeded {EVENT_COUNT} face events in archive {video['id']}", flush=True)
            script = work_dir / "report.lua"
            script.write_text(WRK_SCRIPT)
            results = []
            for name, path in endpoints(gw, video, docs).items():
                print(f"wrk: GET {path}", flush=True)
                results.append(run_wrk(name, gw.url + path, gw.admin_token, script, CONNECTIONS))
            setting = f"{EVENT_COUNT} face events in one archive ({TRACK_LENGTH} per track, {CLUSTER_COUNT} clusters)"
            print_results(results, ports, f"{setting}; wrk -c{CONNECTIONS}")


if __name__ == "__main__":
    main()
