"""Phone-style clips made from real footage: a picture stored one way, with a display matrix
(MP4's track matrix) that tells players how to turn or mirror it."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FPS = 25


def rotated_clip(
    source: Path, target: Path, degrees: int, *, hflip: bool = False, vflip: bool = False, frames: int = 8
) -> Path:
    """The first `frames` frames of `source` stored as they are (H.264 in MP4), with a display
    matrix that turns them `degrees` counterclockwise, then mirrors them (PyAV's
    `set_display_rotation`)."""
    return _write(target, stored_pictures(source, frames), degrees, hflip=hflip, vflip=vflip)


def phone_clip(source: Path, target: Path, degrees: int, *, frames: int = 8) -> Path:
    """What a phone writes: the first `frames` frames of `source` stored turned `degrees`
    clockwise (the sensor's way up), with the display matrix that shows them upright again."""
    turned = [np.rot90(picture, -degrees // 90) for picture in stored_pictures(source, frames)]
    return _write(target, turned, degrees)


def stored_pictures(path: Path, frames: int | None = None) -> list[np.ndarray]:
    """The frames as stored, in RGB: what a decoder that ignores the display matrix gives."""
    with av.open(str(path)) as container:
        pictures = []
        for frame in container.decode(video=0):
            if len(pictures) == frames:
                break
            pictures.append(frame.to_ndarray(format="rgb24"))
        return pictures


def _write(target: Path, pictures: list[np.ndarray], degrees: int, *, hflip: bool = False, vflip: bool = False) -> Path:
    with av.open(str(target), "w") as clip:
        stream = clip.add_stream("libx264", rate=FPS)
        stream.height, stream.width = pictures[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.set_display_rotation(degrees, hflip=hflip, vflip=vflip)
        for index, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            clip.mux(stream.encode(frame))
        clip.mux(stream.encode())
    return target
