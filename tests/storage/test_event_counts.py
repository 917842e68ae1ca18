"""The event counts storage keeps (`vidar.event_counts`) equal the records they count, through
records, redeliveries, matches, a new run and a deleted archive: `/events/<kind>/count/` answers
from them what counting the records answers."""

import asyncio
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.database import Database

from tests.polling import eventually
from tests.stack import Gateway, Ports, consumer_caught_up, mongo_url
from tests.storage.archives import new_archive
from tests.storage.test_detections import counts, detection, posted, publish
from vidar import event_counts, subjects
from vidar.bus import STORAGE_DETECTIONS
from vidar.health import ProcessingStatus
from vidar.models.attributes import AgeFeature, BodyFeatures, ColorFeature, FaceFeatures, GenderFeature
from vidar.models.events import Envelope
from vidar.models.jobs import DetectionPosted, Statistic, VideoProcessing
from vidar.models.matches import DetectionMatched
from vidar_storage.event_counts import EventCounts

pytestmark = pytest.mark.usefixtures("storage")

# Face filters of the count, each with the query that counts the same records.
FACE_FILTERS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {}),
    ({"gender": "male"}, {"features.gender.name": "male"}),
    ({"gender": "male,female"}, {"features.gender.name": {"$in": ["male", "female"]}}),
    ({"age_gte": 30, "age_lte": 39}, {"features.age.name": {"$gte": 30, "$lte": 39}}),
    ({"gender": "male", "age_gte": 35}, {"features.gender.name": "male", "features.age.name": {"$gte": 35}}),
    ({"matched": "true"}, {"matched": True}),
    ({"matched": "false"}, {"matched": {"$ne": True}}),
]


def face(
    video_id: int, camera_group: int, run_id: str, track: int, gender: str | None, age: int | None
) -> DetectionPosted:
    confident = {"confidence": 0.9}
    features = FaceFeatures(
        gender=GenderFeature(name=gender, **confident) if gender else None,
        age=AgeFeature(name=age, **confident) if age is not None else None,
    )
    return detection(video_id, run_id, "face", track).model_copy(
        update={"features": features, "camera_group": camera_group}
    )


def matched(item: DetectionPosted, confidence: float) -> Envelope:
    match = DetectionMatched(
        event_id=item.event_id,
        video_id=item.video_id,
        run_id=item.run_id,
        camera_group=item.camera_group,
        kind=item.kind,
        matched_card=1,
        matched_object=f"object-{confidence}",
        matched_lists=[1],
        confidence=confidence,
    )
    return Envelope(type=subjects.match(item.kind), payload=match, event_id=match.message_id)


def assert_counts_equal_records(api: httpx.Client, db: Database, video_id: int, camera_group: int) -> None:
    """Each face count, in the archive and in its camera group (the test's own), is the records'
    number. Every archive's count is the same code on another document; other tests write
    records straight into the shared database, so its number is not checked here."""
    assert db.event_counts.find_one({"_id": f"archive:{video_id}:face"}), "a kept count answers"
    scopes = (
        ({"video_archive": video_id}, {"video_id": video_id}),
        ({"camera_groups": camera_group}, {"camera_group": camera_group}),
    )
    for scope, scoped in scopes:
        for params, query in FACE_FILTERS:
            expected = db.detections.count_documents({**scoped, **query, "kind": "face"})
            answer = api.get("/events/faces/count/", params={**scope, **params})
            assert answer.json() == {"count": expected}, (scope, params)


def test_kept_counts_equal_the_records(api: httpx.Client, gw: Gateway, db: Database, camera_group: int) -> None:
    video_id = new_archive(api, camera_group=camera_group)
    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-a"}})
    faces = [
        face(video_id, camera_group, "run-a", 1, "male", 34),
        face(video_id, camera_group, "run-a", 2, "female", 41),
        face(video_id, camera_group, "run-a", 3, "male", 38),
        face(video_id, camera_group, "run-a", 4, None, None),
    ]
    red = BodyFeatures(top_color=ColorFeature(name="red", confidence=0.8))
    body = detection(video_id, "run-a", "body", 5).model_copy(update={"features": red, "camera_group": camera_group})
    publish(gw, *(posted(item) for item in [*faces, body]))
    eventually(lambda: counts(api, video_id) == (4, 1, 0), what="the records")
    # A redelivered record, a first match, a better one and the same again: one event matched.
    again = Envelope(type="detection.face", payload=faces[0], event_id=faces[0].event_id + "-again")
    publish(gw, again, matched(faces[0], 0.7), matched(faces[0], 0.8), matched(faces[0], 0.8))
    eventually(lambda: db.detections.count_documents({"video_id": video_id, "matched": True}) == 1, what="the match")
    eventually(lambda: consumer_caught_up(gw.env["VIDAR_NATS_URL"], STORAGE_DETECTIONS), what="storage")

    assert_counts_equal_records(api, db, video_id, camera_group)
    assert api.get("/events/bodies/count/", params={"video_archive": video_id, "top_color": "red"}).json() == {
        "count": 1
    }
    kept = db.event_counts.find_one({"_id": f"archive:{video_id}:face"})
    assert kept[event_counts.COMBINATIONS] == {"male|34|-|-": 1, "female|41|-|-": 1, "male|38|-|-": 1, "-|-|-|-": 1}
    assert (kept[event_counts.FIRST_TIMESTAMP], kept[event_counts.LAST_TIMESTAMP]) == (1001, 1004)
    assert_walks_from_the_span(api, db, video_id)


def assert_walks_from_the_span(api: httpx.Client, db: Database, video_id: int) -> None:
    """Lists by date and timestamp, both ways, start at the kept span and give every event in order."""
    records = list(db.detections.find({"video_id": video_id, "kind": "face"}))
    for ordering in ("created_date", "-created_date", "timestamp", "-timestamp"):
        field = ordering.removeprefix("-")
        ordered = sorted(records, key=lambda r: (r[field], r["_id"]), reverse=ordering.startswith("-"))
        params = {"video_archive": video_id, "ordering": ordering, "limit": 2}
        first = api.get("/events/faces/", params=params).json()
        second = api.get("/events/faces/", params={**params, "page": first["next_page"]}).json()
        listed = [row["id"] for row in first["results"] + second["results"]]
        assert listed == [record["_id"] for record in ordered], ordering


def test_a_new_run_and_a_deletion_take_the_archive_out(
    api: httpx.Client, gw: Gateway, db: Database, camera_group: int
) -> None:
    video_id = new_archive(api, camera_group=camera_group)
    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-a"}})
    publish(gw, *(posted(face(video_id, camera_group, "run-a", track, "female", 20 + track)) for track in range(3)))
    eventually(lambda: counts(api, video_id) == (3, 0, 0), what="the first run's records")

    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-b"}})
    queued = VideoProcessing(video_id=video_id, run_id="run-b", status=ProcessingStatus.QUEUED, statistic=Statistic())
    publish(gw, Envelope(type="video.processing.queued", payload=queued))
    eventually(lambda: counts(api, video_id) == (0, 0, 0), what="the first run's records to go")
    publish(gw, posted(face(video_id, camera_group, "run-b", 1, "male", 50)))
    eventually(lambda: counts(api, video_id) == (1, 0, 0), what="the new run's record")
    assert_counts_equal_records(api, db, video_id, camera_group)

    assert api.delete(f"/videos/{video_id}/").status_code == 204
    eventually(lambda: db.detections.count_documents({"video_id": video_id}) == 0, what="the records to go")
    scopes = (({"camera_groups": camera_group}, {"camera_group": camera_group}),)

    def counts_equal_records() -> bool:
        return all(
            api.get("/events/faces/count/", params={**scope, **params}).json()["count"]
            == db.detections.count_documents({**scoped, **query, "kind": "face"})
            for scope, scoped in scopes
            for params, query in FACE_FILTERS
        )

    eventually(counts_equal_records, what="the archive's events out of every count")
    assert db.event_counts.find_one({"_id": f"archive:{video_id}:face"}) is None


def test_counts_are_made_once_from_records_recorded_before_they_were_kept(
    api: httpx.Client, gw: Gateway, db: Database, stack: Ports, camera_group: int
) -> None:
    """A database whose events were recorded before storage kept their counts (no version marker)
    gets them made from its records at storage's start, once; without that, its global counts
    would miss them and a walk oldest first would start past them."""
    video_id = new_archive(api, camera_group=camera_group)
    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": "run-a"}})
    publish(gw, *(posted(face(video_id, camera_group, "run-a", track, "female", 20 + track)) for track in (1, 2, 3)))
    eventually(lambda: counts(api, video_id) == (3, 0, 0), what="the records")
    eventually(lambda: consumer_caught_up(gw.env["VIDAR_NATS_URL"], STORAGE_DETECTIONS), what="storage")
    own = {"_id": f"archive:{video_id}:face"}
    kept = db.event_counts.find_one(own)

    db.event_counts.delete_many({})  # as before storage kept any: every count and the marker gone
    asyncio.run(ensure_counts(stack))
    assert db.event_counts.find_one(own) == kept
    assert_counts_equal_records(api, db, video_id, camera_group)
    assert_walks_from_the_span(api, db, video_id)
    db.event_counts.update_one(own, {"$inc": {event_counts.TOTAL: 1}})
    asyncio.run(ensure_counts(stack))
    assert db.event_counts.find_one(own)[event_counts.TOTAL] == 4, "made once: the marker says so"
    db.event_counts.update_one(own, {"$inc": {event_counts.TOTAL: -1}})


async def ensure_counts(stack: Ports) -> None:
    """What storage does at its start."""
    client: AsyncMongoClient = AsyncMongoClient(mongo_url(stack), tz_aware=True)
    try:
        await EventCounts(client["vidar"]).ensure()
    finally:
        await client.close()
