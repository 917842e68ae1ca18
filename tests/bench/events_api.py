"""Latency of the detection events API: an archive with 10,000 stored face events, then its
attribute filters (issue 26) across 100,000 events of every kind.

Creates archives through the API, bulk-inserts records into MongoDB as the storage service writes
them (a 128-D embedding and a box history each: the hidden fields weigh on every read; the
attributes of each kind; the archive's kept counts), with one thumbnail in S3, then drives each
endpoint with wrk and prints requests/s, p50 and p95. Run by `make bench` (which installs wrk).
"""

import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr
from pymongo import MongoClient

from tests.bench.wrk import WRK_SCRIPT, WrkResult, print_results, run_wrk
from tests.stack import MONGO_ACCOUNT, S3_ACCESS_KEY, S3_SECRET_KEY, Gateway, gateway, servers
from vidar import archive
from vidar.devstack.servers import HOST
from vidar.documents import COUNT_FIELDS, DetectionRecord
from vidar.models.attributes import (
    COLOR_NAMES,
    EMOTIONS,
    AgeFeature,
    BodyFeatures,
    CarFeatures,
    ColorFeature,
    EmotionFeature,
    FaceFeatures,
    Features,
    GenderFeature,
    MedmaskFeature,
    PlateFeature,
)
from vidar.models.jobs import DetectionPosted
from vidar.models.stream_settings import DetectorType
from vidar.objectstore import ObjectStore
from vidar.settings import VidarSettings

EVENT_COUNT = 10_000
# The attribute filters' events: the archive above, and archives of each kind (100,000 in all).
MORE_OF_KIND: dict[DetectorType, int] = {"face": 30_000, "body": 35_000, "car": 25_000}
INSERT_BATCH = 5_000
PLATE_SHARE = 0.3  # of cars, a readable plate
PLATE_LETTERS = "ABCEHKMOPTXY0123456789"
TRACK_LENGTH = 20  # events per track: one best post and realtime posts
CLUSTER_COUNT = 40
SPREAD_DAYS = 30
LIST_LIMIT = 20
QUALITY_FLOOR = 0.9
# One client at a time: these are latencies, and SecantusDB (the embedded MongoDB-wire server)
# answers one request at a time, so more connections only queue (16 put p50 at 10 s).
CONNECTIONS = 1
THUMBNAIL = Path(".cache/videos/faces/obama.jpg")  # a real photograph, from tests/data/fetch_videos.sh


def features(kind: DetectorType, rng: random.Random) -> Features:
    """Attributes spread as a street's might be: half men, ages 15 to 75, clothes and cars of every
    colour (bottoms mostly dark), a plate read on some cars."""
    confident = {"confidence": round(rng.uniform(0.5, 1.0), 3)}
    if kind == "face":
        return FaceFeatures(
            age=AgeFeature(name=rng.randint(15, 75), **confident),
            gender=GenderFeature(name=rng.choice(("male", "female")), **confident),
            emotions=EmotionFeature(name=rng.choice(EMOTIONS), **confident),
            medmask=MedmaskFeature(name="correct" if rng.random() < 0.1 else "none", **confident),
        )
    if kind == "body":
        bottom = rng.choice(("black", "blue", "grey", *COLOR_NAMES))
        return BodyFeatures(
            top_color=ColorFeature(name=rng.choice(COLOR_NAMES), **confident),
            bottom_color=ColorFeature(name=bottom, **confident),
        )
    plate = "".join(rng.choice(PLATE_LETTERS) for _ in range(6)) if rng.random() < PLATE_SHARE else None
    return CarFeatures(
        color=ColorFeature(name=rng.choice(COLOR_NAMES), **confident),
        license_plate_number=PlateFeature(name=plate, **confident) if plate else None,
    )


def records(video: dict, kind: DetectorType, count: int, rng: random.Random) -> list[dict]:
    """`count` records of one run of `kind`, as the storage service stores detection.<kind>."""
    run_id = f"bench-events-{kind}"
    start = datetime.now(UTC) - timedelta(days=SPREAD_DAYS)
    docs = []
    for sequence in range(count):
        track = sequence // TRACK_LENGTH
        posted = DetectionPosted(
            video_id=video["id"],
            camera_group=video["camera_group"],
            run_id=run_id,
            kind=kind,
            track_id=f"1-{track}",
            post="best" if sequence % TRACK_LENGTH == 0 else "realtime",
            sequence=sequence,
            bbox=(10.0, 12.0, 90.0, 110.0),
            frame=sequence,
            stream_time=sequence / 25,
            timestamp=sequence / 25,
            quality=rng.random(),
            features=features(kind, rng),
            thumbnail_key=archive.detection_images(video["id"], run_id, "thumbnail.jpg"),
            full_frame_key=archive.detection_images(video["id"], run_id, "thumbnail.jpg"),
            history=[(index / 25, 10.0, 12.0, 90.0, 110.0) for index in range(TRACK_LENGTH)],
            embedding=[rng.gauss(0, 0.1) for _ in range(128)],
        )
        created = start + timedelta(seconds=rng.uniform(0, SPREAD_DAYS * 86400))
        created = created.replace(microsecond=created.microsecond // 1000 * 1000)
        docs.append(
            DetectionRecord(**posted.model_dump(), created_date=created, cluster=track % CLUSTER_COUNT).document()
        )
    return docs


def new_archive(gw: Gateway, name: str) -> dict:
    with gw.client() as client:
        response = client.post("/videos/", json={"camera_group": 1, "name": name})
    assert response.status_code == 201, response.text
    return response.json()


def store(gw: Gateway, video: dict, kind: DetectorType, docs: list[dict]) -> None:
    """The records inserted, and the archive's count of them kept as storage keeps it in the
    transaction of each record (`/events/<kind>/count/?video_archive=` reads it)."""
    with MongoClient(HOST, gw.ports.mongo, tz_aware=True, **MONGO_ACCOUNT) as mongo:
        database = mongo["vidar"]
        for start in range(0, len(docs), INSERT_BATCH):
            database[archive.DETECTIONS].insert_many(docs[start : start + INSERT_BATCH])
        database[archive.VIDEOS].update_one({"_id": video["id"]}, {"$inc": {COUNT_FIELDS[kind]: len(docs)}})


def seed(gw: Gateway) -> tuple[dict, list[dict]]:
    video = new_archive(gw, "ten thousand faces")
    docs = records(video, "face", EVENT_COUNT, random.Random(20261124))
    store(gw, video, "face", docs)
    objects = ObjectStore(
        VidarSettings(
            s3_endpoint=f"{HOST}:{gw.ports.s3}", s3_access_key=S3_ACCESS_KEY, s3_secret_key=SecretStr(S3_SECRET_KEY)
        )
    )
    objects.write(docs[0]["thumbnail_key"], THUMBNAIL.read_bytes(), "image/jpeg")
    return video, docs


def seed_every_kind(gw: Gateway, rng: random.Random) -> dict[DetectorType, list[dict]]:
    """Archives of each kind, 100,000 events in all with the first archive; each kind's records."""
    seeded: dict[DetectorType, list[dict]] = {}
    for kind, count in MORE_OF_KIND.items():
        video = new_archive(gw, f"{count} {kind} events")
        seeded[kind] = records(video, kind, count, rng)
        store(gw, video, kind, seeded[kind])
    return seeded


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


def _feature(doc: dict, name: str) -> Any:
    feature = (doc["features"] or {}).get(name)
    return feature["name"] if feature else None


# name -> (type, filters, what they match): each a list and a count, over every kind's events.
ATTRIBUTE_FILTERS: dict[str, tuple[str, dict, Callable[[dict], bool]]] = {
    "faces male": ("faces", {"gender": "male"}, lambda d: _feature(d, "gender") == "male"),
    "faces male 30-39": (
        "faces",
        {"gender": "male", "age_gte": 30, "age_lte": 39},
        lambda d: _feature(d, "gender") == "male" and 30 <= _feature(d, "age") <= 39,
    ),
    "faces masked, happy or surprised": (
        "faces",
        {"medmask": "correct", "emotions": "happy,surprised"},
        lambda d: _feature(d, "medmask") == "correct" and _feature(d, "emotions") in ("happy", "surprised"),
    ),
    "bodies red top, black bottom": (
        "bodies",
        {"top_color": "red", "bottom_color": "black"},
        lambda d: _feature(d, "top_color") == "red" and _feature(d, "bottom_color") == "black",
    ),
    "cars white or silver-grey": ("cars", {"color": "white,grey"}, lambda d: _feature(d, "color") in ("white", "grey")),
    "cars plate contains 77": (
        "cars",
        {"license_plate_number": "77"},
        lambda d: "77" in (_feature(d, "license_plate_number") or ""),
    ),
}
_KIND_OF_TYPE: dict[str, DetectorType] = {"faces": "face", "bodies": "body", "cars": "car"}


def attribute_endpoints(gw: Gateway, video: dict, by_kind: dict[DetectorType, list[dict]]) -> dict[str, str]:
    """A list (newest first) and a count of each attribute filter across every archive, and one
    within the 10,000 faces' archive; each answer checked against the seeded records."""
    cases = {
        name: (kind, {**filters, "limit": LIST_LIMIT}, match)
        for name, (kind, filters, match) in ATTRIBUTE_FILTERS.items()
    }
    object_type, filters, of_age = ATTRIBUTE_FILTERS["faces male 30-39"]
    cases["faces male 30-39 in an archive"] = (
        object_type,
        {**filters, "video_archive": video["id"], "limit": LIST_LIMIT},
        lambda d: d["video_id"] == video["id"] and of_age(d),
    )
    paths = {}
    with gw.client() as client:
        for name, (of_type, params, matches) in cases.items():
            found = [d for d in by_kind[_KIND_OF_TYPE[of_type]] if matches(d)]
            newest = sorted(found, key=lambda d: (d["created_date"], d["_id"]), reverse=True)[:LIST_LIMIT]
            answer = client.get(f"/events/{of_type}/", params=params)
            assert [row["id"] for row in answer.json()["results"]] == [d["_id"] for d in newest], name
            counted = {key: value for key, value in params.items() if key != "limit"}
            answer = client.get(f"/events/{of_type}/count/", params=counted)
            assert answer.json() == {"count": len(found)}, name
            paths[f"list {name}"] = f"/events/{of_type}/?" + urlencode(params)
            paths[f"count {name}"] = f"/events/{of_type}/count/?" + urlencode(counted)
    return paths


def timed(gw: Gateway, paths: dict[str, str], script: Path) -> list[WrkResult]:
    results = []
    for name, path in paths.items():
        print(f"wrk: GET {path}", flush=True)
        results.append(run_wrk(name, gw.url + path, gw.admin_token, script, CONNECTIONS))
    return results


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
            results = timed(gw, endpoints(gw, video, docs), script)
            setting = f"{EVENT_COUNT} face events in one archive ({TRACK_LENGTH} per track, {CLUSTER_COUNT} clusters)"
            print_results(results, ports, f"{setting}; wrk -c{CONNECTIONS}")

            by_kind = seed_every_kind(gw, random.Random(20261207))
            by_kind["face"] += docs
            results = timed(gw, attribute_endpoints(gw, video, by_kind), script)
            shares = ", ".join(f"{len(docs)} {kind}" for kind, docs in by_kind.items())
            total = sum(len(docs) for docs in by_kind.values())
            print(f"seeded {total} events in all: {shares}", flush=True)
            setting = f"attribute filters over {total} events in 4 archives ({shares}), list limit {LIST_LIMIT}"
            print_results(results, ports, f"{setting}; wrk -c{CONNECTIONS}")


if __name__ == "__main__":
    main()
