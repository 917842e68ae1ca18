"""vtest.avi's hand-checked walkers (tests/data/labels/vtest-walkers.json) are well-formed and agree
with the hand-checked frames of tests/data/labels/vtest.json: every person box there (difficult ones
aside) is one walker's box at that frame, reused exactly. No servers, no video: the frame count is
PyAV's for vtest.avi (tests/detector/test_labels.py decodes it)."""

import json
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

LABELS = Path(__file__).parents[1] / "data" / "labels"
WALKERS = LABELS / "vtest-walkers.json"
FRAMES = LABELS / "vtest.json"
FRAME_COUNT = 795  # vtest.avi, PyAV decode indices 0..794
MAX_STEP = 20  # at most this many frames between two boxes of a walker
# The walker visits found by eye (the file's note: a person who leaves and comes back is two). The
# issue guessed "at least 40"; vtest has 21 visits, most of them long (people walk to and fro).
MIN_WALKERS = 21

Box = tuple[float, float, float, float]


@pytest.fixture(scope="module")
def labels() -> dict[str, Any]:
    return json.loads(WALKERS.read_text())


@pytest.fixture(scope="module")
def frames() -> dict[int, list[dict[str, Any]]]:
    return {frame["index"]: frame["objects"] for frame in json.loads(FRAMES.read_text())["frames"]}


def boxes_of(walker: dict[str, Any]) -> dict[int, Box]:
    return {int(frame): tuple(box) for frame, box in walker["boxes"].items()}


def test_file_is_well_formed(labels: dict[str, Any]) -> None:
    assert set(labels) == {"video", "size", "note", "walkers"}
    assert labels["video"] == "vtest.avi"
    assert labels["size"] == json.loads(FRAMES.read_text())["size"] == [768, 576]
    assert labels["note"].strip()
    ids = [walker["id"] for walker in labels["walkers"]]
    assert len(set(ids)) == len(ids), "ids are unique"
    for walker in labels["walkers"]:
        assert set(walker) == {"id", "first_frame", "last_frame", "difficult", "boxes"}, walker["id"]
        assert isinstance(walker["difficult"], bool), walker["id"]
        assert all(str(int(frame)) == frame for frame in walker["boxes"]), walker["id"]


def test_boxes_lie_between_first_and_last_frame_inside_the_picture(labels: dict[str, Any]) -> None:
    width, height = labels["size"]
    for walker in labels["walkers"]:
        first, last = walker["first_frame"], walker["last_frame"]
        assert 0 <= first <= last < FRAME_COUNT, walker["id"]
        boxes = boxes_of(walker)
        assert first in boxes, (walker["id"], "a box at the first frame")
        assert last in boxes, (walker["id"], "a box at the last frame")
        for frame, (x1, y1, x2, y2) in boxes.items():
            assert first <= frame <= last, (walker["id"], frame)
            assert 0 <= x1 < x2 <= width, (walker["id"], frame)
            assert 0 <= y1 < y2 <= height, (walker["id"], frame)


def test_boxes_are_at_most_20_frames_apart(labels: dict[str, Any]) -> None:
    for walker in labels["walkers"]:
        indices = sorted(boxes_of(walker))
        gaps = [later - earlier for earlier, later in pairwise(indices)]
        assert max(gaps, default=0) <= MAX_STEP, walker["id"]


def test_every_person_box_of_the_labelled_frames_is_one_walkers_box(
    labels: dict[str, Any], frames: dict[int, list[dict[str, Any]]]
) -> None:
    owners: Counter[tuple[int, Box]] = Counter()
    for walker in labels["walkers"]:
        for frame, box in boxes_of(walker).items():
            if frame in frames:
                owners[(frame, box)] += 1
    shared = [key for key, count in owners.items() if count > 1]
    assert not shared, f"boxes that two walkers share: {shared}"
    for frame, found in frames.items():
        for person in found:
            if person["kind"] == "body" and not person["difficult"]:
                assert owners[(frame, tuple(person["box"]))] == 1, (frame, person["box"])


def test_walkers_in_sight_on_a_labelled_frame_have_its_box_there(
    labels: dict[str, Any], frames: dict[int, list[dict[str, Any]]]
) -> None:
    """A walker's box on a labelled frame is that frame's person box, never a guess of its own."""
    for walker in labels["walkers"]:
        boxes = boxes_of(walker)
        for frame, found in frames.items():
            if walker["first_frame"] <= frame <= walker["last_frame"]:
                people = {tuple(person["box"]) for person in found if person["kind"] == "body"}
                assert boxes.get(frame) in people, (walker["id"], frame)


def test_the_parked_vehicles_are_not_walkers(labels: dict[str, Any], frames: dict[int, list[dict[str, Any]]]) -> None:
    vehicles = {(frame, tuple(car["box"])) for frame, found in frames.items() for car in found if car["kind"] == "car"}
    for walker in labels["walkers"]:
        assert not {(frame, box) for frame, box in boxes_of(walker).items()} & vehicles, walker["id"]


def test_there_are_enough_walkers(labels: dict[str, Any]) -> None:
    assert len(labels["walkers"]) >= MIN_WALKERS
