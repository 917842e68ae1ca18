"""Crop, transforms, motion gating and pacing of decoded frames."""

import time

import av
import numpy as np
import pytest

from vidar.orientation import UPRIGHT, Orientation
from vidar_detector.frames import Cadence, MotionGate, Pacer, transform, upright
from vidar_detector.geometry import Rectangle, crop

IMAGE = np.arange(2 * 3 * 3).reshape(2, 3, 3)  # 2 rows, 3 columns, 3 channels
PICTURE = IMAGE.astype(np.uint8)  # as decoded


def test_geometry_parses_and_checks_bounds() -> None:
    assert Rectangle.parse("") is None
    area = Rectangle.parse("2x1+1+0")
    assert area == Rectangle(width=2, height=1, x=1, y=0)
    area.check_inside(3, 2, "rot")
    with pytest.raises(ValueError, match="not inside the 2x2 frame"):
        area.check_inside(2, 2, "rot")
    assert crop(IMAGE, area).tolist() == IMAGE[0:1, 1:3].tolist()


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("", IMAGE),
        ("Flip", IMAGE[::-1]),
        ("Flop", IMAGE[:, ::-1]),
        ("Rotate180", IMAGE[::-1, ::-1]),
        ("Transpose", np.transpose(IMAGE, (1, 0, 2))),
        ("Rotate90", np.rot90(IMAGE, -1)),
        ("Rotate270", np.rot90(IMAGE, 1)),
        ("Transverse", np.rot90(np.transpose(IMAGE, (1, 0, 2)), 2)),
    ],
)
def test_transforms(how: str, expected: np.ndarray) -> None:
    assert transform(IMAGE, how).tolist() == expected.tolist()


def test_rotate90_is_clockwise() -> None:
    image = np.array([[1, 2], [3, 4]])[..., None]
    assert transform(image, "Rotate90")[..., 0].tolist() == [[3, 1], [4, 2]]


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        (UPRIGHT, PICTURE),
        (Orientation(transpose=True, flip_rows=True), np.rot90(PICTURE, 1)),
        (Orientation(transpose=True, flip_columns=True), np.rot90(PICTURE, -1)),
        (Orientation(flip_rows=True, flip_columns=True), np.rot90(PICTURE, 2)),
        (Orientation(transpose=True), np.transpose(PICTURE, (1, 0, 2))),
        (Orientation(transpose=True, flip_rows=True, flip_columns=True), np.transpose(PICTURE, (1, 0, 2))[::-1, ::-1]),
        (Orientation(flip_columns=True), PICTURE[:, ::-1]),
    ],
)
def test_upright_turns_the_stored_picture_as_players_show_it(orientation: Orientation, expected: np.ndarray) -> None:
    turned = upright(PICTURE, orientation)
    assert turned.tolist() == expected.tolist()
    assert turned.flags.c_contiguous, "the models' input as it is, copied no more"


def test_video_transform_applies_to_what_the_user_sees() -> None:
    """A phone clip shown turned a quarter left, then `Rotate90` (clockwise) by the user: the
    stored picture again."""
    shown = upright(PICTURE, Orientation(transpose=True, flip_rows=True))
    assert transform(shown, "Rotate90").tolist() == PICTURE.tolist()
    assert transform(shown, "Flop").tolist() == np.rot90(PICTURE, 1)[:, ::-1].tolist()


def frame(level: int) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(np.full((72, 128, 3), level, dtype=np.uint8), format="rgb24")


def test_motion_gate_skips_still_frames() -> None:
    gate = MotionGate(threshold=5)
    assert gate.passes(frame(100))
    assert not gate.passes(frame(102)), "2 grey levels is below the threshold"
    assert gate.passes(frame(120))
    assert MotionGate(threshold=0).passes(frame(120))


def test_pacer_holds_to_play_speed_and_drops_late_frames() -> None:
    assert Pacer(play_speed=-1, disable_drops=True).admit(100.0, 0.1)
    pacer = Pacer(play_speed=10, disable_drops=False)
    started = time.monotonic()
    assert pacer.admit(0.0, 0.1)
    assert pacer.admit(1.0, 0.1)
    assert time.monotonic() - started >= 0.09, "one second of video at 10x takes 0.1 s"
    time.sleep(0.2)
    assert not pacer.admit(1.1, 0.1), "20 frames late: dropped"
    keeping = Pacer(play_speed=10, disable_drops=True)
    keeping.admit(0.0, 0.1)
    time.sleep(0.2)
    assert keeping.admit(0.1, 0.1), "disable_drops keeps late frames"


def detected(rate: float, fps: float, seconds: float, jitter: float = 0.0) -> list[int]:
    """The frames a cadence picks from `seconds` of video (frame times off by up to `jitter`)."""
    cadence = Cadence(rate, fps)
    wobble = np.random.default_rng(7).uniform(-jitter, jitter, round(seconds * fps))
    return [index for index, shift in enumerate(wobble) if cadence.due(index / fps + shift)]


@pytest.mark.parametrize(
    ("rate", "fps", "every"), [(5, 10, 2), (5, 30, 6), (5, 25, 5), (2, 10, 5), (10, 10, 1), (40, 10, 1), (0, 25, 1)]
)
def test_a_cadence_whose_period_is_whole_frames_picks_every_nth(rate: float, fps: float, every: int) -> None:
    assert detected(rate, fps, seconds=10) == list(range(0, round(10 * fps), every))


@pytest.mark.parametrize(("rate", "fps"), [(4, 25), (3, 10), (5, 29.97), (7, 60)])
def test_a_cadence_keeps_its_rate_in_media_time(rate: float, fps: float) -> None:
    frames = detected(rate, fps, seconds=60)
    assert len(frames) == pytest.approx(60 * rate, abs=1)
    gaps = set(np.diff(frames).tolist())
    assert gaps <= {int(fps / rate), int(fps / rate) + 1}, "the gaps differ by a frame at most"


def test_a_cadence_holds_on_a_variable_frame_rate() -> None:
    frames = detected(5, 30, seconds=60, jitter=0.01)
    assert len(frames) == pytest.approx(300, abs=2)
    assert set(np.diff(frames).tolist()) <= {5, 6, 7}
