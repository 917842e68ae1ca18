"""Bodies and cars on vtest.avi end to end: every service, the default detector (YOLOv5s at the
default input size and detection rate), one run with both kinds on.

The range of body tracks comes from a full-rate, full-size reference run on this machine: the
same model on every frame at 768 (the frame's width), its boxes of at least 20 pixels through
`simple_iou`: REFERENCE_TRACKS tracks of at least 10 frames (1 s). At the defaults (416, 5
detections a second) the same run gives 37, and covers 95% of the reference's tracks
(tests/bench/detector.py). A score near the model's threshold, which another CPU may round the
other way, splits or joins a track now and then: the test allows 25% either side.

The parked vehicles' posted boxes are checked against their hand-labelled boxes
(tests/data/labels/vtest.json).
"""

import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from pymongo.database import Database

from tests.polling import eventually
from tests.scheduler.processing import ready_archive, wait_for
from tests.stack import Gateway
from vidar_detector.detectors import Yolov5Detector
from vidar_detector.geometry import iou
from vidar_detector.settings import DEFAULT_CLASS_MAP, DetectorSettings

REFERENCE_TRACKS = 41
BODY = {"filter_min_size": 20, "filter_track_min_duration_frames": 10}
CAR = {"filter_min_size": 20}
LABELS = Path(__file__).parents[1] / "data" / "labels" / "vtest.json"


def labelled_vehicles() -> list[tuple[float, float, float, float]]:
    """The white van and the blue car parked in the top right corner all along (the car cut
    by the frame's right edge), as labelled on the first frame: left to right."""
    first = json.loads(LABELS.read_text())["frames"][0]
    return sorted(tuple(found["box"]) for found in first["objects"] if found["kind"] == "car")


@pytest.fixture(scope="module")
def vtest_run(gw: Gateway, videos: Path, storage: object, scheduler: object, detector: object) -> dict:
    """One run with bodies and cars on, shared by this module's tests (the session's services)."""
    with gw.client() as api:
        video_id = ready_archive(api, videos / "vtest.avi", detectors={"face": None, "body": BODY, "car": CAR})
        api.post(f"/videos/{video_id}/process/")
        done = wait_for(api, video_id, "COMPLETED", "FAILED", timeout=600)
    assert done["health_status"]["status"] == "COMPLETED", done["error"]
    return done


@pytest.fixture(scope="module")
def coco(models: Path) -> Yolov5Detector:
    """The run's model at the detector's input size, a little more lenient: the stored full frame
    is a JPEG of the one the run saw, which can move a score across the threshold."""
    size = DetectorSettings.model_fields["model_image_size"].default
    return Yolov5Detector(models / "yolov5s.onnx", DEFAULT_CLASS_MAP, image_size=size, min_score=0.1)


def image_of(api: httpx.Client, url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(api.get(url).content)).convert("RGB"))


def stored(api: httpx.Client, db: Database, video: dict, kind: str, object_type: str) -> list[dict]:
    """The run's records of a kind, once the archive's counter and the events API agree."""
    posted = video["health_status"]["statistic"]["objects"][kind]["posted"]
    counter = f"{kind}_count"
    count = eventually(
        lambda: (count := api.get(f"/videos/{video['id']}/").json()[counter]) == posted and count,
        what=f"{counter} to reach the posted count",
    )
    records = list(db.detections.find({"video_id": video["id"], "kind": kind}))
    events = api.get(f"/events/{object_type}/count/", params={"video_archive": video["id"]}).json()["count"]
    assert len(records) == count == events
    assert len({record["track_id"] for record in records}) == count, "one best post per track"
    return records


@pytest.mark.timeout(900)
def test_vtest_bodies_are_tracked_counted_and_each_best_frame_is_a_person(
    api: httpx.Client, db: Database, vtest_run: dict, coco: Yolov5Detector
) -> None:
    counters = vtest_run["health_status"]["statistic"]["objects"]["body"]
    assert 0.75 * REFERENCE_TRACKS <= counters["posted"] <= 1.25 * REFERENCE_TRACKS, counters
    assert counters["failed"] == 0
    assert counters["not_posted"] > 0, "the short tracks"
    for record in stored(api, db, vtest_run, "body", "bodies"):
        found = coco.detect(image_of(api, f"/events/bodies/{record['_id']}/full_frame/"))
        people = [person.box for person in found if person.kind == "body"]
        assert any(iou(box, tuple(record["bbox"])) >= 0.5 for box in people), record["_id"]


@pytest.mark.timeout(900)
def test_vtest_parked_van_and_car_are_one_track_each_posted_once(
    api: httpx.Client, db: Database, vtest_run: dict
) -> None:
    assert vtest_run["health_status"]["statistic"]["objects"]["car"] == {"posted": 2, "failed": 0, "not_posted": 0}
    records = sorted(stored(api, db, vtest_run, "car", "cars"), key=lambda record: record["bbox"][0])
    for record, labelled in zip(records, labelled_vehicles(), strict=True):
        assert record["post"] == "best"
        assert iou(tuple(record["bbox"]), labelled) >= 0.5, (record["bbox"], labelled)
        # With post_best_track_normalize (the default), a car's thumbnail is its box.
        x1, y1, x2, y2 = record["bbox"]
        height, width = image_of(api, f"/events/cars/{record['_id']}/thumbnail/").shape[:2]
        assert abs(width - (x2 - x1)) <= 2
        assert abs(height - (y2 - y1)) <= 2
