"""Matching end to end: carphone's man as a record (his photo detected and embedded by the real
detector), then two archives processed by every service: his face events in both are matched
with his record, and the other person's (footage made from a photograph) is not."""

from pathlib import Path

import httpx
import pytest
from pymongo.database import Database

from tests.detector.real_faces import PHOTOS
from tests.detector.test_clustering_e2e import FACES, carphone, concatenated, photo_footage
from tests.gateway.test_record_objects import attach, created, photos  # noqa: F401  (a fixture)
from tests.gateway.test_watch_lists import new_watch_list
from tests.polling import eventually
from tests.scheduler.processing import ready_archive, wait_for

pytestmark = pytest.mark.usefixtures("storage", "scheduler", "detector")


def processed(api: httpx.Client, db: Database, path: Path, faces: int) -> list[dict]:
    """The archive's face events, by time, once each is stored."""
    video_id = ready_archive(api, path, detectors=FACES)
    api.post(f"/videos/{video_id}/process/")
    done = wait_for(api, video_id, "COMPLETED", timeout=180)
    assert done["health_status"]["statistic"]["objects"]["face"]["posted"] == faces
    eventually(lambda: db.detections.count_documents({"video_id": video_id}) == faces, what="the events stored")
    return list(db.detections.find({"video_id": video_id, "kind": "face"}).sort("timestamp"))


def matched_event(db: Database, event_id: str) -> dict:
    def found() -> dict | None:
        return db.detections.find_one({"_id": event_id, "matched": True})

    return eventually(found, what=f"event {event_id} matched")


def test_carphones_man_is_matched_in_two_archives_and_the_other_person_is_not(
    api: httpx.Client,
    db: Database,
    videos: Path,
    tmp_path: Path,
    photos: dict[str, bytes],  # noqa: F811
) -> None:
    watch_list = new_watch_list(api, name="carphone")["id"]
    card = api.post("/cards/humans/", json={"name": "carphone's man", "watch_lists": [watch_list]}).json()["id"]
    face_object = created(attach(api, "faces", card, photos["man"]))["id"]

    other = list(photo_footage(videos / "faces" / f"{PHOTOS['obama'][0]}.jpg"))
    man, stranger = processed(api, db, concatenated(tmp_path / "two-people.mp4", carphone(videos), other), faces=2)
    (again,) = processed(api, db, videos / "carphone_pristine.mp4", faces=1)

    for event in (man, again):
        matched = matched_event(db, event["_id"])
        assert (matched["matched_card"], matched["matched_lists"], matched["matched_object"]) == (
            card,
            [watch_list],
            face_object,
        )
        assert 0.5 <= matched["confidence"] <= 1
    stranger_now = db.detections.find_one({"_id": stranger["_id"]})
    assert stranger_now is not None
    assert "matched" not in stranger_now
