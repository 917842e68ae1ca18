"""Bodies on vtest.avi end to end (every service, the real person model at 640, simple_iou).

The range of tracks comes from a full-rate reference run of the same tracker and settings on
this machine (the model at 640 on every frame, its boxes of at least 20 pixels through
`IouTracker`): 76 tracks, 50 of them at least 10 frames (1 s) long. ByteTrack, in the peer of
tests/bench/detector.py, finds 42 such tracks, of which these 50 cover 98%. The count moves
only where a detection's score sits at the model's 0.25 threshold, which another CPU or torch
build may round the other way, splitting or joining a track: the test allows 20% either side.
"""

import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from pymongo.database import Database

from tests.detector.test_models import models, yolo  # noqa: F401 (models is a fixture)
from tests.polling import eventually
from tests.scheduler.processing import ready_archive, wait_for
from vidar_detector.settings import DEFAULT_CLASS_MAP
from vidar_detector.tracking import iou

pytestmark = pytest.mark.usefixtures("storage", "scheduler", "detector")

REFERENCE_TRACKS = 50
BODY = {"filter_min_size": 20, "filter_track_min_duration_frames": 10}


# 795 frames through the person model: a few minutes on 2 cores.
@pytest.mark.timeout(1500)
def test_vtest_bodies_are_tracked_counted_and_each_best_frame_is_a_person(
    api: httpx.Client,
    db: Database,
    videos: Path,
    models: Path,  # noqa: F811
) -> None:
    video_id = ready_archive(api, videos / "vtest.avi", detectors={"face": None, "body": BODY})
    api.post(f"/videos/{video_id}/process/")
    done = wait_for(api, video_id, "COMPLETED", "FAILED", timeout=1400)
    assert done["health_status"]["status"] == "COMPLETED", done["error"]
    counters = done["health_status"]["statistic"]["objects"]["body"]
    assert 0.8 * REFERENCE_TRACKS <= counters["posted"] <= 1.2 * REFERENCE_TRACKS, counters
    assert counters["failed"] == 0
    assert counters["not_posted"] > 0, "the short tracks"

    body_count = eventually(
        lambda: (count := api.get(f"/videos/{video_id}/").json()["body_count"]) == counters["posted"] and count,
        what="body_count to reach the posted count",
    )
    records = list(db.detections.find({"video_id": video_id}))
    assert (
        len(records)
        == body_count
        == api.get("/events/bodies/count/", params={"video_archive": video_id}).json()["count"]
    )
    assert len({record["track_id"] for record in records}) == body_count, "one best post per track"

    detector = yolo(models, DEFAULT_CLASS_MAP)
    for record in records:
        frame = api.get(f"/events/bodies/{record['_id']}/full_frame/")
        image = np.asarray(Image.open(io.BytesIO(frame.content)).convert("RGB"))
        found = detector.detect(image)
        assert any(iou(person.box, tuple(record["bbox"])) >= 0.5 for person in found), record["_id"]
