"""Reading a display matrix: quarter turns and mirrors exactly, other angles to the nearest
quarter turn (the exact matrices PyAV writes are checked on real clips in tests/detector)."""

import math
import struct
from pathlib import Path

import av
import pytest

from vidar.orientation import UPRIGHT, Orientation, display_orientation, orientation_of

ONE = 1 << 16  # 16.16 fixed point


def turned(counterclockwise_degrees: float) -> bytes:
    """FFmpeg's av_display_rotation_set for a counterclockwise angle."""
    radians = math.radians(counterclockwise_degrees)
    cos, sin = round(math.cos(radians) * ONE), round(math.sin(radians) * ONE)
    return struct.pack("=9i", cos, -sin, 0, sin, cos, 0, 0, 0, 1 << 30)


QUARTER_LEFT = Orientation(transpose=True, flip_rows=True)  # np.rot90(picture, 1)
QUARTER_RIGHT = Orientation(transpose=True, flip_columns=True)  # np.rot90(picture, -1)
UPSIDE_DOWN = Orientation(flip_rows=True, flip_columns=True)


@pytest.mark.parametrize(
    ("degrees", "expected"),
    [
        (0, UPRIGHT),
        (44, UPRIGHT),
        (45, UPRIGHT),
        (50, QUARTER_LEFT),
        (90, QUARTER_LEFT),
        (-93, QUARTER_RIGHT),
        (170, UPSIDE_DOWN),
        (-180, UPSIDE_DOWN),
        (271, QUARTER_RIGHT),
    ],
)
def test_an_angle_is_read_as_the_nearest_quarter_turn(degrees: float, expected: Orientation) -> None:
    assert orientation_of(turned(degrees)) == expected


def test_no_matrix_is_upright_and_a_quarter_turn_swaps_the_size() -> None:
    assert orientation_of(None) == UPRIGHT
    assert UPRIGHT.size(1920, 1080) == (1920, 1080)
    assert QUARTER_LEFT.size(1920, 1080) == (1080, 1920)


def test_a_frame_with_side_data_pyav_cannot_name_is_read_by_its_rotation(videos: Path) -> None:
    """A JPEG's frame carries side data of a type PyAV 18.1 cannot list (31): reading its side
    data fails, so its rotation is read instead, and it decodes upright."""
    with av.open(str(videos / "faces" / "obama.jpg")) as photo:
        frame = next(photo.decode(video=0))
    assert display_orientation(frame) == UPRIGHT
