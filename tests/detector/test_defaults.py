"""What a new user gets: vtest.avi, and copies of it as other cameras would record it (other sizes,
codecs and containers: tests/data/vtest_copies.py), each processed on every service at the API's
defaults with bodies and cars turned on (`{"body": {}, "car": {}}`; faces stay on, as by default).

Each posted body track is matched to the hand-checked walkers of tests/data/labels (tests/detector/
walkers.py says how): 20 walkers, and one mostly hidden at the parked car. Measured at the defaults
(a posted track scored by its best frame alone), walkers followed and tracks that follow them:
vtest.avi 20 by 24 (1.20 a walker), the 384x288 copy 19 by 27, the 1280x720 one 18 by 23, the
1152x864 one 17 by 23 (as tests/detector/walker_replay.py gives them in seconds). Before the
tracker re-found lost tracks by position (vidar_detector.tracking) they were 30, 37, 28 and 29
tracks; before its second match on grown boxes, 2.15 to 2.9 tracks a walker. The bounds leave a
margin for another CPU, which may round a score near a threshold the other way and split or join
a track now and then: vtest.avi's is the bench's goal of 1.3 tracks a walker.
"""

from pathlib import Path

import httpx
import numpy as np
import pytest
from pymongo.database import Database

from tests.detector.vtest_runs import image_of, labelled_vehicles, stored
from tests.detector.walkers import VTEST_COPIES, Sighting, Walker, followed_walker, score, walkers
from tests.scheduler.processing import ready_archive, wait_for
from tests.stack import Gateway
from vidar_detector.detectors import Yolov5Detector
from vidar_detector.geometry import iou
from vidar_detector.settings import DEFAULT_CLASS_MAP, DetectorSettings

MIN_RECALL = 0.85
# Tracks a followed walker gets, at most: on vtest.avi, and on a copy.
MAX_TRACKS_PER_WALKER = {"vtest.avi": 1.3} | dict.fromkeys(list(VTEST_COPIES)[1:], 1.6)
# How far a copy's count of walker tracks may be from the original's.
COUNT_TOLERANCE = 0.35
# Tracks that follow no walker: a person hidden most of the way, a split-off piece.
MAX_UNMATCHED_SHARE = 0.2


@pytest.fixture(scope="module")
def runs(gw: Gateway, videos: Path, storage: object, scheduler: object, detector: object) -> dict[str, dict]:
    """Every video's finished archive, processed at the defaults; asked for all at once."""
    with gw.client() as api:
        ids = {name: ready_archive(api, videos / name, detectors={"body": {}, "car": {}}) for name in VTEST_COPIES}
        for video_id in ids.values():
            assert api.post(f"/videos/{video_id}/process/").status_code == 200
        done = {name: wait_for(api, video_id, "COMPLETED", "FAILED", timeout=900) for name, video_id in ids.items()}
    for archive in done.values():
        assert archive["health_status"]["status"] == "COMPLETED", archive["error"]
    return done


def events(api: httpx.Client, object_type: str, video_id: int, **filters: str) -> list[dict]:
    params = {"video_archive": video_id, "limit": 1000, **filters}
    page = api.get(f"/events/{object_type}/", params=params).json()
    found = page["results"]
    while page["next_page"]:
        page = api.get(f"/events/{object_type}/", params={**params, "page": page["next_page"]}).json()
        found += page["results"]
    return found


def sightings(api: httpx.Client, archive: dict) -> list[Sighting]:
    return [
        Sighting(event["track"], event["frame"], tuple(event["bbox"])) for event in events(api, "bodies", archive["id"])
    ]


def walkers_of(name: str) -> list[Walker]:
    return walkers(VTEST_COPIES[name])


@pytest.fixture(scope="module")
def default_model(models: Path) -> Yolov5Detector:
    """The run's model at the detector's input size, a little more lenient: the stored full frame
    is a JPEG of the one the run saw, which can move a score across the threshold."""
    size = DetectorSettings.model_fields["model_image_size"].default
    return Yolov5Detector(models / "yolov5s.onnx", DEFAULT_CLASS_MAP, image_size=size, min_score=0.1)


@pytest.mark.timeout(1800)
def test_vtest_bodies_are_counted_stored_and_each_best_frame_is_a_person(
    api: httpx.Client, db: Database, runs: dict[str, dict], default_model: Yolov5Detector
) -> None:
    run = runs["vtest.avi"]
    counters = run["health_status"]["statistic"]["objects"]["body"]
    assert counters["failed"] == 0
    assert counters["not_posted"] > 0, "the pieces of tracks shorter than filter_track_min_duration_frames"
    for record in stored(api, db, run, "body", "bodies"):
        found = default_model.detect(image_of(api, f"/events/bodies/{record['_id']}/full_frame/"))
        people = [person.box for person in found if person.kind == "body"]
        assert any(iou(box, tuple(record["bbox"])) >= 0.5 for box in people), record["_id"]


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", VTEST_COPIES)
def test_every_copy_reports_the_walkers_at_the_defaults(api: httpx.Client, runs: dict[str, dict], name: str) -> None:
    archive = runs[name]
    assert archive["stream_settings"]["detectors"]["body"]["filter_min_size"] < 13, "the smallest walker"
    found = score(sightings(api, archive), walkers_of(name))
    original = score(sightings(api, runs["vtest.avi"]), walkers_of("vtest.avi"))
    assert found.recall >= MIN_RECALL, found
    assert found.tracks_per_walker <= MAX_TRACKS_PER_WALKER[name], found
    assert found.unmatched <= MAX_UNMATCHED_SHARE * (found.tracks + found.unmatched), found
    assert abs(found.tracks - original.tracks) <= COUNT_TOLERANCE * original.tracks, (found, original)


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", VTEST_COPIES)
def test_the_parked_car_and_van_are_one_track_each_with_a_thumbnail_of_it(
    api: httpx.Client, runs: dict[str, dict], name: str
) -> None:
    width, height = VTEST_COPIES[name]
    scale = np.array((width, height) * 2) / np.array(VTEST_COPIES["vtest.avi"] * 2)
    cars = sorted(events(api, "cars", runs[name]["id"]), key=lambda event: event["bbox"][0])
    assert len(cars) == 2, [car["bbox"] for car in cars]
    for event, labelled in zip(cars, labelled_vehicles(), strict=True):
        assert iou(tuple(event["bbox"]), tuple(np.array(labelled) * scale)) >= 0.5, (event["bbox"], labelled)
        # With post_best_track_normalize (the default), a car's thumbnail is its box.
        x1, y1, x2, y2 = event["bbox"]
        thumbnail = image_of(api, event["thumbnail"])
        assert abs(thumbnail.shape[1] - (x2 - x1)) <= 2
        assert abs(thumbnail.shape[0] - (y2 - y1)) <= 2
        assert thumbnail.std() > 10, "a picture, not a blank"


def test_vtest_s_events_carry_colours_and_top_color_red_finds_its_red_jacket(
    gw: Gateway, runs: dict[str, dict]
) -> None:
    """Issue 26, at the defaults: vtest's bodies and cars are posted with their colours, and
    `top_color=red` returns a subset of the bodies that holds walker 12 (a red jacket,
    tests/data/labels/vtest-walkers.json)."""
    video_id = runs["vtest.avi"]["id"]
    with gw.client() as api:
        bodies, red, cars = (
            events(api, "bodies", video_id),
            events(api, "bodies", video_id, top_color="red"),
            events(api, "cars", video_id),
        )
    assert sum(bool(event["features"]["top_color"]) for event in bodies) >= 0.9 * len(bodies)
    assert cars
    assert all(event["features"]["color"] for event in cars)
    assert red
    assert {event["id"] for event in red} < {event["id"] for event in bodies}
    assert {event["features"]["top_color"]["name"] for event in red} == {"red"}
    followed = [followed_walker(Sighting(e["track"], e["frame"], tuple(e["bbox"])), walkers()) for e in red]
    assert "12" in {walker.id for walker in followed if walker}
