"""Detection end to end: real models on real footage, through every service."""

import base64
import io
from pathlib import Path

import httpx
import pytest
from PIL import Image
from pymongo.database import Database

from tests.detector.receiver import receiver
from tests.polling import eventually
from tests.scheduler.processing import ready_archive, wait_for
from tests.stack import Gateway, bucket_keys
from vidar.devstack.servers import free_port

pytestmark = pytest.mark.usefixtures("storage", "scheduler", "detector")


def test_carphone_has_one_face_track_posted_once(api: httpx.Client, gw: Gateway, db: Database, videos: Path) -> None:
    video_id = ready_archive(api, videos / "carphone_pristine.mp4", detectors={"face": {"filter_min_size": 30}})
    api.post(f"/videos/{video_id}/process/")
    done = wait_for(api, video_id, "COMPLETED", timeout=120)
    statistic = done["health_status"]["statistic"]
    assert statistic["objects"]["face"]["posted"] == 1
    assert statistic["faces_posted"] == 1
    assert eventually(lambda: api.get(f"/videos/{video_id}/").json()["face_count"] == 1, what="face_count")

    (record,) = db.detections.find({"video_id": video_id})
    assert (record["kind"], record["post"]) == ("face", "best")
    x1, y1, x2, y2 = record["bbox"]
    assert 0 <= x1 < x2 <= 176
    assert 0 <= y1 < y2 <= 144
    keys = bucket_keys(gw.ports)(f"videos/{video_id}/detections/")
    assert sorted(keys) == sorted([record["thumbnail_key"], record["full_frame_key"]])


def test_a_roi_away_from_the_face_finds_none(api: httpx.Client, db: Database, videos: Path) -> None:
    roi = {"detectors": {"face": {"filter_min_size": 30, "roi": "40x40+0+100"}}}
    video_id = ready_archive(api, videos / "carphone_pristine.mp4", **roi)
    api.post(f"/videos/{video_id}/process/")
    done = wait_for(api, video_id, "COMPLETED", timeout=120)
    assert done["health_status"]["statistic"]["objects"]["face"]["posted"] == 0
    assert db.detections.count_documents({"video_id": video_id}) == 0


def carphone_face_archive(api: httpx.Client, videos: Path, router_url: str) -> int:
    video_id = ready_archive(api, videos / "carphone_pristine.mp4", detectors={"face": {"filter_min_size": 30}})
    assert api.patch(f"/videos/{video_id}/", json={"router_url": router_url}).status_code == 200
    return video_id


def test_the_router_receives_every_posted_object(api: httpx.Client, db: Database, videos: Path) -> None:
    with receiver() as router:
        video_id = carphone_face_archive(api, videos, router.url)
        api.post(f"/videos/{video_id}/process/")
        done = wait_for(api, video_id, "COMPLETED", timeout=120)
    assert done["health_status"]["statistic"]["objects"]["face"] == {"posted": 1, "failed": 0, "not_posted": 0}
    (body,) = router.received
    (record,) = eventually(lambda: list(db.detections.find({"video_id": video_id})), what="the stored detection")
    assert body["event_id"] == record["_id"]
    assert body["event"]["bbox"] == record["bbox"]
    thumbnail = Image.open(io.BytesIO(base64.b64decode(body["thumbnail"]["data"])))
    assert thumbnail.format == "JPEG"


def test_a_dead_router_is_counted_as_failed_and_the_video_completes(
    api: httpx.Client, db: Database, videos: Path
) -> None:
    video_id = carphone_face_archive(api, videos, f"http://127.0.0.1:{free_port()}/")
    api.post(f"/videos/{video_id}/process/")
    done = wait_for(api, video_id, "COMPLETED", timeout=120)
    statistic = done["health_status"]["statistic"]
    assert statistic["objects"]["face"] == {"posted": 0, "failed": 1, "not_posted": 0}
    assert (statistic["faces_posted"], statistic["faces_failed"]) == (0, 1)
    assert eventually(lambda: api.get(f"/videos/{video_id}/").json()["face_count"] == 1, what="stored anyway")


def test_realtime_posting_sends_one_event_per_interval_of_the_track(
    api: httpx.Client, db: Database, videos: Path
) -> None:
    face = {
        "filter_min_size": 30,
        "overall_only": False,
        "realtime_post_interval": 1,
        "realtime_post_every_interval": True,
        "track_send_history": True,
    }
    video_id = ready_archive(api, videos / "carphone_pristine.mp4", detectors={"face": face})
    api.post(f"/videos/{video_id}/process/")
    done = wait_for(api, video_id, "COMPLETED", timeout=120)
    posted = done["health_status"]["statistic"]["objects"]["face"]["posted"]
    records = eventually(
        lambda: (found := list(db.detections.find({"video_id": video_id}))) and len(found) == posted and found,
        what="the stored realtime events",
    )
    assert {(record["post"], record["track_id"]) for record in records} == {("realtime", "1-1")}
    # The last post closes the unfinished interval: its history is the whole track.
    track = max((record["history"] for record in records), key=len)
    first, last = track[0][0], track[-1][0]
    assert last - first > 3, "carphone's face is in view for its 4 s"
    assert sorted(record["sequence"] for record in records) == list(range(1, int(last - first) + 2))
