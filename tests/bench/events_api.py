"""Latency of the detection events API on one archive of 100,000 events (issue 23) of every kind
with their attributes (issue 26): the default list, each ordering, each attribute filter, matched,
camera groups, date windows, a cluster's best, and the count of each.

Creates the archive through the API, bulk-inserts records into MongoDB as the storage service writes
them (a 128-D embedding and a box history each: the hidden fields weigh on every read; the
attributes of each kind; a match on some faces), sets the counts storage keeps with them, puts one
thumbnail in S3, then drives each endpoint with wrk and prints requests/s, p50 and p95. The seeded
database is kept in SEED_DIR and reused. Run by `make bench` (which installs wrk).
"""

import json
import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr
from pymongo import MongoClient

from tests.bench.wrk import WRK_SCRIPT, WrkResult, print_results, run_wrk
from tests.stack import MONGO_ACCOUNT, S3_ACCESS_KEY, S3_SECRET_KEY, Gateway, gateway, servers
from vidar import archive, event_counts
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

# One archive, 100,000 events (issue 23): a run with every detector on.
EVENTS_OF_KIND: dict[DetectorType, int] = {"face": 60_000, "body": 25_000, "car": 15_000}
EVENT_COUNT = sum(EVENTS_OF_KIND.values())
# Seeding takes SecantusDB about 16 ms an event (its 24 indexes): the seeded database is kept here
# and reused while its seed file says what it holds.
SEED_DIR = Path(".cache/bench/events_api")
SEED_VERSION = 1
PLATE_SHARE = 0.3  # of cars, a readable plate
PLATE_LETTERS = "ABCEHKMOPTXY0123456789"
MATCHED_EVERY = 100  # one face in this many matched a record of a watch list
TRACK_LENGTH = 20  # events per track: one best post and realtime posts
CLUSTER_COUNT = 40
SPREAD_DAYS = 30
LIST_LIMIT = 20
QUALITY_FLOOR = 0.9
# One client at a time: these are latencies, and SecantusDB (the embedded MongoDB-wire server)
# answers one request at a time, so more connections only queue (16 put p50 at 10 s).
CONNECTIONS = 1
INSERT_BATCH = 5_000
# A check may read every event where no index serves its list (seconds on SecantusDB, minutes on a
# loaded machine): it is timed afterwards, not refused.
CHECK_TIMEOUT_S = 600
THUMBNAIL = Path(".cache/videos/faces/obama.jpg")  # a real photograph, from tests/data/fetch_videos.sh
_SEEDS: dict[DetectorType, int] = {"face": 20261124, "body": 20261207, "car": 20261208}


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


def records(video: dict, kind: DetectorType, count: int, start: datetime) -> list[dict]:
    """`count` records of one run of `kind`, as the storage service stores detection.<kind>, the
    same for the same `start` (created over SPREAD_DAYS from it); one face in MATCHED_EVERY
    matched, as storage keeps a match."""
    rng = random.Random(_SEEDS[kind])
    run_id = f"bench-events-{kind}"
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
        doc = DetectionRecord(**posted.model_dump(), created_date=created, cluster=track % CLUSTER_COUNT).document()
        if kind == "face" and sequence % MATCHED_EVERY == 0:
            doc |= {"matched": True, "matched_card": 1, "matched_lists": [1], "matched_object": "1", "confidence": 0.9}
        docs.append(doc)
    return docs


def every_record(video: dict, start: datetime) -> dict[DetectorType, list[dict]]:
    return {kind: records(video, kind, count, start) for kind, count in EVENTS_OF_KIND.items()}


def new_archive(gw: Gateway, name: str) -> dict:
    with gw.client() as client:
        response = client.post("/videos/", json={"camera_group": 1, "name": name})
    assert response.status_code == 201, response.text
    return response.json()


def insert(gw: Gateway, docs: list[dict]) -> None:
    with MongoClient(HOST, gw.ports.mongo, tz_aware=True, **MONGO_ACCOUNT) as mongo:
        for first in range(0, len(docs), INSERT_BATCH):
            print(f"inserting events {first}..{first + INSERT_BATCH} of {len(docs)}", flush=True)
            mongo["vidar"][archive.DETECTIONS].insert_many(docs[first : first + INSERT_BATCH])


def keep_counts(gw: Gateway, video: dict, by_kind: dict[DetectorType, list[dict]]) -> None:
    """The counts storage keeps in the transaction of each record: the archive's (`face_count`)
    and the kept counts of each scope with their span (`vidar.event_counts`), set to what the
    records hold."""
    counters: dict[str, dict] = {}
    for kind, docs in by_kind.items():
        for doc in docs:
            for counter in event_counts.counter_ids(kind, doc["video_id"], doc["camera_group"]):
                kept = counters.setdefault(counter, {event_counts.CAMERA_GROUP: doc["camera_group"]})
                _count(kept, event_counts.one_event(kind, doc["features"], matched="matched" in doc))
                _widen(kept, event_counts.span_of(doc))
    with MongoClient(HOST, gw.ports.mongo, tz_aware=True, **MONGO_ACCOUNT) as mongo:
        database = mongo["vidar"]
        totals = {COUNT_FIELDS[kind]: len(docs) for kind, docs in by_kind.items()}
        database[archive.VIDEOS].update_one({"_id": video["id"]}, {"$set": totals})
        for counter, kept in counters.items():
            database[event_counts.EVENT_COUNTS].replace_one({"_id": counter}, kept, upsert=True)


def _count(kept: dict, increments: dict[str, int]) -> None:
    """Dotted `$inc` paths (`combinations.<key>`) applied to the document they build."""
    for path, number in increments.items():
        head, _, tail = path.partition(".")
        into = kept.setdefault(head, {}) if tail else kept
        into[tail or head] = into.get(tail or head, 0) + number


def _widen(kept: dict, span: dict[str, dict]) -> None:
    for op, pick in (("$min", min), ("$max", max)):
        for field, value in span[op].items():
            kept[field] = pick(kept[field], value) if field in kept else value


def seed(gw: Gateway) -> tuple[dict, dict[DetectorType, list[dict]]]:
    """The archive of 100,000 events and its records: seeded once into SEED_DIR, then regenerated
    from its seed file (the same records) on later runs."""
    seed_file = SEED_DIR / "seed.json"
    if seed_file.exists():
        kept = json.loads(seed_file.read_text())
        video, start = kept["video"], datetime.fromisoformat(kept["start"])
        print(f"reusing the {EVENT_COUNT} events seeded in {SEED_DIR}", flush=True)
        return video, every_record(video, start)
    video = new_archive(gw, f"{EVENT_COUNT} events")
    start = datetime.now(UTC) - timedelta(days=SPREAD_DAYS)
    by_kind = every_record(video, start)
    insert(gw, [doc for docs in by_kind.values() for doc in docs])
    objects = ObjectStore(
        VidarSettings(
            s3_endpoint=f"{HOST}:{gw.ports.s3}", s3_access_key=S3_ACCESS_KEY, s3_secret_key=SecretStr(S3_SECRET_KEY)
        )
    )
    first = by_kind["face"][0]
    objects.write(first["thumbnail_key"], THUMBNAIL.read_bytes(), "image/jpeg")
    seed_file.write_text(json.dumps({"version": SEED_VERSION, "video": video, "start": start.isoformat()}))
    return video, by_kind


def _feature(doc: dict, name: str) -> Any:
    feature = (doc["features"] or {}).get(name)
    return feature["name"] if feature else None


@dataclass(frozen=True)
class Case:
    """A list (and its count) of one object type's events and what they match."""

    object_type: str
    params: dict[str, Any]
    matches: Callable[[dict], bool]
    ordering: str = "-created_date"
    counted: bool = True


_KIND_OF_TYPE: dict[str, DetectorType] = {"faces": "face", "bodies": "body", "cars": "car"}
_ORDER_KEYS: dict[str, Callable[[dict], Any]] = {
    "created_date": lambda d: d["created_date"],
    "quality": lambda d: d["quality"],
    "timestamp": lambda d: d["timestamp"],
}


def cases(video: dict, start: datetime) -> dict[str, Case]:
    """Every list the issue names, within the archive: the default, each ordering, each attribute
    filter, matched, camera groups, date windows, a cluster's best."""
    mine = {"video_archive": video["id"]}
    week = start + timedelta(days=10)
    window = {"created_date_gte": week.isoformat(), "created_date_lt": (week + timedelta(days=7)).isoformat()}
    in_window = lambda d: week <= d["created_date"] < week + timedelta(days=7)  # noqa: E731
    listed: dict[str, Case] = {"faces": Case("faces", mine, lambda d: True)}
    for ordering in ("created_date", "quality", "-quality", "timestamp", "-timestamp"):
        listed[f"faces by {ordering}"] = Case("faces", mine, lambda d: True, ordering, counted=False)
    return listed | {
        "faces male": Case("faces", {**mine, "gender": "male"}, lambda d: _feature(d, "gender") == "male"),
        "faces aged 30-39": Case(
            "faces", {**mine, "age_gte": 30, "age_lte": 39}, lambda d: 30 <= _feature(d, "age") <= 39
        ),
        "faces male 30-39": Case(
            "faces",
            {**mine, "gender": "male", "age_gte": 30, "age_lte": 39},
            lambda d: _feature(d, "gender") == "male" and 30 <= _feature(d, "age") <= 39,
        ),
        "faces matched": Case("faces", {**mine, "matched": "true"}, lambda d: "matched" in d),
        "faces camera group 1": Case("faces", {"camera_groups": video["camera_group"]}, lambda d: True),
        "faces in a week": Case("faces", {**mine, **window}, in_window),
        "faces last 7 days": Case(
            "faces",
            {**mine, "created_date_last_n_days": 7},
            lambda d: d["created_date"] >= datetime.now(UTC) - timedelta(days=7),
        ),
        "faces cluster 3, quality >= 0.9": Case(
            "faces",
            {**mine, "cluster": 3, "quality_gte": QUALITY_FLOOR},
            lambda d: d["cluster"] == 3 and d["quality"] >= QUALITY_FLOOR,
            "-quality",
        ),
        "bodies red top": Case("bodies", {**mine, "top_color": "red"}, lambda d: _feature(d, "top_color") == "red"),
        "cars white": Case("cars", {**mine, "color": "white"}, lambda d: _feature(d, "color") == "white"),
        "cars plate contains 77": Case(
            "cars",
            {**mine, "license_plate_number": "77"},
            lambda d: "77" in (_feature(d, "license_plate_number") or ""),
        ),
    }


def endpoints(gw: Gateway, video: dict, by_kind: dict[DetectorType, list[dict]], start: datetime) -> dict[str, str]:
    """name -> path, each answer checked against the seeded records so a broken one is not timed:
    a list's first page, and its count."""
    paths: dict[str, str] = {}
    with gw.client() as client:
        client.timeout = httpx.Timeout(CHECK_TIMEOUT_S)
        for name, case in cases(video, start).items():
            found = [d for d in by_kind[_KIND_OF_TYPE[case.object_type]] if case.matches(d)]
            key = _ORDER_KEYS[case.ordering.removeprefix("-")]
            ordered = sorted(found, key=lambda d: (key(d), d["_id"]), reverse=case.ordering.startswith("-"))
            params = {**case.params, "ordering": case.ordering, "limit": LIST_LIMIT}
            answer = client.get(f"/events/{case.object_type}/", params=params)
            assert [row["id"] for row in answer.json()["results"]] == [d["_id"] for d in ordered[:LIST_LIMIT]], name
            paths[f"list {name}"] = f"/events/{case.object_type}/?" + urlencode(params)
            if case.counted:
                answer = client.get(f"/events/{case.object_type}/count/", params=case.params)
                assert answer.json() == {"count": len(found)}, (name, answer.json(), len(found))
                paths[f"count {name}"] = f"/events/{case.object_type}/count/?" + urlencode(case.params)
        mine = {"video_archive": video["id"], "limit": LIST_LIMIT}
        paths["list faces page 50"] = "/events/faces/?" + urlencode({**mine, "page": _cursor(client, mine, pages=50)})
        first = by_kind["face"][0]["_id"]
        assert client.get(f"/events/faces/{first}/thumbnail/").content == THUMBNAIL.read_bytes()
    return paths | {"one event": f"/events/faces/{first}/", "thumbnail": f"/events/faces/{first}/thumbnail/"}


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
    if (
        not (SEED_DIR / "seed.json").exists()
        or json.loads((SEED_DIR / "seed.json").read_text())["version"] != SEED_VERSION
    ):
        shutil.rmtree(SEED_DIR, ignore_errors=True)  # a seeding cut short, or of another version
    SEED_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vidar-bench-") as tmp:
        work_dir = Path(tmp)
        (work_dir / "logs").mkdir()
        with servers(SEED_DIR / "servers") as ports, gateway(ports, work_dir / "logs") as gw:
            video, by_kind = seed(gw)
            keep_counts(gw, video, by_kind)
            start = min(doc["created_date"] for docs in by_kind.values() for doc in docs)
            script = work_dir / "report.lua"
            script.write_text(WRK_SCRIPT)
            results = timed(gw, endpoints(gw, video, by_kind, start), script)
            shares = ", ".join(f"{count} {kind}" for kind, count in EVENTS_OF_KIND.items())
            setting = (
                f"one archive of {EVENT_COUNT} events ({shares}; {TRACK_LENGTH} per track, {CLUSTER_COUNT} clusters,"
                f" created over {SPREAD_DAYS} days), list limit {LIST_LIMIT}"
            )
            print_results(results, ports, f"{setting}; wrk -c{CONNECTIONS}")


if __name__ == "__main__":
    main()
