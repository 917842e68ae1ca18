"""Attributes end to end: a processed clip's posted detections carry their features (as the router
receives the `detection.<kind>` events, whatever storage keeps of them), and `POST /detect/`'s
compute describes the objects it finds; with attributes off, `features` is null; a broken attribute
network takes only its own attributes away, and the completed archive's `error` names its file (on
a stack of its own)."""

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest

from tests.conftest import MODELS, detector_settings, model_settings
from tests.detector.receiver import receiver
from tests.detector.test_attributes import OBAMA_PORTRAIT_FACE
from tests.detector.test_broken_models import stack_with
from tests.scheduler.processing import ready_archive, wait_for
from vidar import archive
from vidar.models.search import DetectReply, DetectRequest
from vidar.objectstore import ObjectStore
from vidar_detector.attributes import describe as attributes
from vidar_detector.image_search import ImageSearch
from vidar_detector.settings import DetectorSettings

# Real weights throughout, and a stack of its own for the broken models.
pytestmark = pytest.mark.integration

# Every sighting of a track posted, so a short clip gives several events of each kind.
EVERY_POST = {"filter_min_size": 20, "post_first_track_frame": True, "post_last_track_frame": True}


def processed(api: httpx.Client, video: Path, **detectors: object) -> tuple[dict, list[dict]]:
    """The archive of `video` once a run of it completed, and the `detection.<kind>` events the
    run posted, as its router receives them."""
    with receiver() as router:
        video_id = ready_archive(api, video, detectors=detectors)
        assert api.patch(f"/videos/{video_id}/", json={"router_url": router.url}).status_code == 200
        api.post(f"/videos/{video_id}/process/")
        completed = wait_for(api, video_id, "COMPLETED", timeout=180)
    return completed, [body["event"] for body in router.received]


def posted_events(api: httpx.Client, video: Path, **detectors: object) -> list[dict]:
    return processed(api, video, **detectors)[1]


@pytest.mark.usefixtures("storage", "scheduler", "detector")
def test_carphone_s_driver_is_posted_with_his_age_and_gender(api: httpx.Client, videos: Path) -> None:
    (event,) = posted_events(api, videos / "carphone_pristine.mp4", face={"filter_min_size": 30})
    features = event["features"]
    assert features["gender"]["name"] == "male"
    assert 20 <= features["age"]["name"] <= 40
    assert features["medmask"]["name"] == "none"
    assert features["emotions"]["name"] in {"angry", "disgusted", "scared", "happy", "neutral", "sad", "surprised"}


@pytest.mark.usefixtures("storage", "scheduler", "detector")
def test_bikes_walkers_and_vehicles_are_posted_with_their_colours(api: httpx.Client, videos: Path) -> None:
    events = posted_events(api, videos / "bikes.mp4", face=None, body=EVERY_POST, car=EVERY_POST)
    bodies = [event["features"] for event in events if event["kind"] == "body"]
    cars = [event["features"] for event in events if event["kind"] == "car"]
    assert bodies
    assert cars
    assert all(set(body) == {"top_color", "bottom_color"} for body in bodies)
    assert all(set(car) == {"color", "license_plate_number"} for car in cars)
    assert all(body["top_color"] and body["bottom_color"] for body in bodies), "every posted walker is large enough"
    assert all(car["color"] for car in cars)


class UploadedImage:
    """The object store, holding one upload of POST /detect/."""

    def __init__(self, key: str, data: bytes) -> None:
        self._objects = {key: data}

    async def get_bytes(self, key: str) -> bytes | None:
        return self._objects.get(key)


def detect(settings: DetectorSettings, image: Path) -> DetectReply:
    key = f"{archive.DETECT_UPLOADS}portrait.jpg"
    search = ImageSearch(settings, cast(ObjectStore, UploadedImage(key, image.read_bytes())))
    return asyncio.run(search.detect(DetectRequest(image_key=key, kinds=["face"])))


def test_post_detect_describes_a_known_face(videos: Path) -> None:
    reply = detect(DetectorSettings.model_validate(model_settings()), videos / "faces" / "obama.jpg")
    (face,) = reply.objects
    assert face.bbox[0] < OBAMA_PORTRAIT_FACE[2], "the portrait's face"
    assert face.features is not None
    features = face.features.model_dump()
    assert features["gender"]["name"] == "male"
    assert 45 <= features["age"]["name"] <= 58


def test_post_detect_without_attributes_has_no_features(videos: Path) -> None:
    reply = detect(
        DetectorSettings.model_validate({**model_settings(), "attributes": False}), videos / "faces" / "obama.jpg"
    )
    assert [face.features for face in reply.objects] == [None]


@pytest.fixture(scope="module")
def broken_attributes_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A stack whose detector's attribute folder holds every network but a truncated age network."""
    root = tmp_path_factory.mktemp("broken-attributes")
    folder = root / "attributes"
    folder.mkdir()
    for name in attributes.MODEL_FILES - {attributes.AGE_MODEL}:
        (folder / name).symlink_to(MODELS / name)
    whole = (MODELS / attributes.AGE_MODEL).read_bytes()
    (folder / attributes.AGE_MODEL).write_bytes(whole[: len(whole) // 2])
    with stack_with(root, {**detector_settings(), "attribute_models": str(folder)}) as client:
        yield client


def test_a_broken_age_network_takes_only_age_and_gender_away_and_the_archive_says_why(
    broken_attributes_api: httpx.Client, videos: Path
) -> None:
    archive, events = processed(broken_attributes_api, videos / "carphone_pristine.mp4", face={"filter_min_size": 30})
    (event,) = events
    features = event["features"]
    assert (features["age"], features["gender"]) == (None, None)
    assert features["medmask"]["name"] == "none"
    assert features["emotions"]["name"] in {"angry", "disgusted", "scared", "happy", "neutral", "sad", "surprised"}
    assert archive["error"].startswith("age and gender not estimated: face age model "), archive["error"]
    assert re.search(r"attributes/age-v1\.onnx: cannot load", archive["error"]), archive["error"]
