"""Probing and screenshots of phone footage (a display matrix on a sideways picture), on files:
the frame size and the screenshot are as players show the video."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.rotated_clips import rotated_clip, stored_pictures
from vidar_storage.probe import probe, screenshot

# A JPEG of a small frame differs from its pixels by a few grey levels on average.
JPEG_MEAN_ERROR = 4


@pytest.fixture(scope="module")
def turned_left(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """carphone (176x144) stored as it is, shown turned a quarter counterclockwise: 144x176."""
    return rotated_clip(videos / "carphone_pristine.mp4", tmp_path_factory.mktemp("phone") / "left.mp4", 90)


def test_the_probe_reports_the_displayed_frame_size(turned_left: Path) -> None:
    with turned_left.open("rb") as file:
        probed, default_screenshot = probe(file, jpeg_quality=90)
    assert (probed.frame_width, probed.frame_height) == (144, 176)
    assert Image.open(io.BytesIO(default_screenshot)).size == (144, 176), "portrait"


@pytest.mark.parametrize("degrees", [90, 180, -90])
def test_screenshots_are_upright(videos: Path, tmp_path: Path, degrees: int) -> None:
    clip = rotated_clip(videos / "carphone_pristine.mp4", tmp_path / "phone.mp4", degrees)
    with clip.open("rb") as file:
        _, default_screenshot = probe(file, jpeg_quality=95)
    with clip.open("rb") as file:
        first = screenshot(file, 0.0, jpeg_quality=95)
    assert Image.open(io.BytesIO(default_screenshot)).size == Image.open(io.BytesIO(first)).size
    shown = np.asarray(Image.open(io.BytesIO(first)).convert("RGB"), dtype=np.int16)
    expected = np.rot90(stored_pictures(clip, frames=1)[0], degrees // 90).astype(np.int16)
    assert shown.shape == expected.shape
    assert np.abs(shown - expected).mean() < JPEG_MEAN_ERROR
