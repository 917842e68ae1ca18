"""Filters on size and score, the edge penalty of quality, roi coordinates, and the `Detections`
rows that carry them."""

import numpy as np
import pytest

from vidar.models.stream_settings import KindSettings
from vidar_detector.detections import NO_TRACK, Detection, Detections
from vidar_detector.detectors import merged_by_kind
from vidar_detector.geometry import Rectangle

SETTINGS = KindSettings(filter_min_size=60, filter_max_size=200, filter_min_quality=0.5)


def one(box: tuple[float, float, float, float], score: float = 0.8) -> Detections:
    return Detections.of([Detection("body", box, score)])


@pytest.mark.parametrize(
    ("box", "score", "kept"),
    [
        ((0, 0, 60, 100), 0.9, True),
        ((0, 0, 59, 100), 0.9, False),  # shorter side below filter_min_size
        ((0, 0, 100, 201), 0.9, False),  # longer side above filter_max_size
        ((0, 0, 100, 200), 0.9, True),
        ((0, 0, 100, 100), 0.49, False),  # a score below filter_min_quality
    ],
)
def test_filters(box: tuple, score: float, kept: bool) -> None:
    assert one(box, score).passing(SETTINGS).tolist() == [kept]


@pytest.mark.parametrize(
    ("box", "expected"), [((10, 10, 50, 50), 0.8), ((0, 10, 50, 50), 0.4), ((10, 10, 50, 99), 0.4)]
)
def test_a_box_cut_by_the_frame_edge_is_worth_less(box: tuple, expected: float) -> None:
    assert one(box).with_qualities(100, 100).qualities.tolist() == [expected]


def test_roi_boxes_come_back_in_frame_coordinates() -> None:
    found = one((1, 2, 3, 4))
    assert found.in_frame(Rectangle(width=50, height=50, x=100, y=10)).box_list() == [(101, 12, 103, 14)]
    assert found.in_frame(None).box_list() == [(1, 2, 3, 4)]


def test_detections_are_filtered_row_by_row() -> None:
    found = Detections([(0, 0, 10, 10), (5, 5, 20, 20), (1, 1, 2, 2)], [0.9, 0.4, 0.7], ["body", "car", "body"])
    assert list(found.track_ids) == [NO_TRACK] * 3
    assert np.isnan(found.qualities).all()
    bodies = found.of_kind("body")
    assert list(bodies) == [Detection("body", (0, 0, 10, 10), 0.9), Detection("body", (1, 1, 2, 2), 0.7)]
    tracked = bodies.with_track_ids(np.array([3, 4]))
    assert tracked[tracked.scores < 0.8].track_ids.tolist() == [4]
    assert len(found[found.scores > 1]) == 0
    assert len(Detections.empty()) == len(Detections.of([])) == 0


def test_columns_of_another_length_are_refused() -> None:
    with pytest.raises(ValueError, match="reshape"):
        Detections([(0, 0, 10, 10)], [0.9, 0.8], ["body"])


def test_boxes_of_one_kind_are_one_object_across_classes() -> None:
    found = Detections([(0, 0, 100, 100), (2, 2, 100, 100), (0, 0, 100, 100)], [0.6, 0.9, 0.5], ["car", "car", "body"])
    merged = merged_by_kind(found)
    assert [(row.kind, row.score) for row in merged] == [("car", 0.9), ("body", 0.5)]
