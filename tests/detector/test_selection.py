"""Filters on size and quality, edge penalty, roi coordinates."""

import pytest

from vidar.models.stream_settings import KindSettings
from vidar_detector.geometry import Rectangle, to_frame
from vidar_detector.selection import passes_filters, quality

SETTINGS = KindSettings(filter_min_size=60, filter_max_size=200, filter_min_quality=0.5)


@pytest.mark.parametrize(
    ("box", "score", "kept"),
    [
        ((0, 0, 60, 100), 0.9, True),
        ((0, 0, 59, 100), 0.9, False),  # shorter side below filter_min_size
        ((0, 0, 100, 201), 0.9, False),  # longer side above filter_max_size
        ((0, 0, 100, 200), 0.9, True),
        ((0, 0, 100, 100), 0.49, False),  # below filter_min_quality
    ],
)
def test_filters(box: tuple, score: float, kept: bool) -> None:
    assert passes_filters(box, score, SETTINGS) is kept


def test_a_box_cut_by_the_frame_edge_is_worth_less() -> None:
    assert quality((10, 10, 50, 50), 0.8, 100, 100) == 0.8
    assert quality((0, 10, 50, 50), 0.8, 100, 100) == 0.4
    assert quality((10, 10, 50, 99), 0.8, 100, 100) == 0.4


def test_roi_boxes_come_back_in_frame_coordinates() -> None:
    assert to_frame((1, 2, 3, 4), Rectangle(width=50, height=50, x=100, y=10)) == (101, 12, 103, 14)
    assert to_frame((1, 2, 3, 4), None) == (1, 2, 3, 4)
