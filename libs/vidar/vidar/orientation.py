"""How a video is meant to be shown: the display matrix (MP4's track matrix, FFmpeg's DISPLAYMATRIX
side data) that phones write instead of turning the picture, as ffmpeg's autorotate and every
browser read it.

PyAV's `VideoFrame.rotation` alone is not enough: a mirrored matrix reads as a rotation (a
left-right mirror as -180), so the matrix itself is read. An angle that is not a quarter turn is
shown as the nearest quarter turn (half-way: the smaller one): ffmpeg would turn the picture by
the exact angle with black corners, which gains a detector nothing and would change the frame size.
"""

import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import av


@dataclass(frozen=True, slots=True)
class Orientation:
    """What turns the stored picture into the displayed one, in this order: swap rows and columns,
    then mirror top-bottom (`flip_rows`) and left-right (`flip_columns`)."""

    transpose: bool = False
    flip_rows: bool = False
    flip_columns: bool = False

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The displayed width and height of a stored picture of this size."""
        return (height, width) if self.transpose else (width, height)


UPRIGHT = Orientation()


def orientation_of(display_matrix: bytes | None) -> Orientation:
    """The orientation a display matrix (nine native int32, 16.16 fixed point) describes.

    FFmpeg's matrix maps a stored pixel (p, q) to the displayed (a*p + c*q, b*p + d*q), with
    y down; a quarter turn or mirror makes each of a, b, c, d 0 or ±1."""
    if display_matrix is None:
        return UPRIGHT
    a, b, _, c, d, *_ = struct.unpack("=9i", display_matrix)
    if abs(b) + abs(c) > abs(a) + abs(d):  # displayed x comes from the stored y: turned a quarter
        return Orientation(transpose=True, flip_rows=b < 0, flip_columns=c < 0)
    return Orientation(transpose=False, flip_rows=d < 0, flip_columns=a < 0)


def display_orientation(frame: "av.VideoFrame") -> Orientation:
    """The orientation of a decoded frame (the decoder copies the stream's matrix onto each)."""
    try:
        # PyAV's stubs have named only the motion vectors among a frame's side data (18.1.0) or
        # all of it (18.1.1): the matrix is a buffer either way.
        side_data = cast("dict[str, Any]", frame.side_data).get("DISPLAYMATRIX")
    except ValueError:
        # The frame carries side data of a type this PyAV cannot name (a JPEG's, type 31 in PyAV
        # 18.1), and listing it fails: FFmpeg's own reading of the matrix still works, without
        # telling a mirror from a turn.
        return orientation_of(_rotation_matrix(frame.rotation))
    return orientation_of(None if side_data is None else bytes(side_data))


def _rotation_matrix(degrees: float) -> bytes:
    """FFmpeg's display matrix of a counterclockwise turn (av_display_rotation_set)."""
    turn, one = math.radians(degrees), 1 << 16
    cos, sin = round(math.cos(turn) * one), round(math.sin(turn) * one)
    return struct.pack("=9i", cos, -sin, 0, sin, cos, 0, 0, 0, 1 << 30)
