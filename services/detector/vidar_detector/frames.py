"""What happens to a decoded frame before detection: turned as players display it (its display
matrix), crop (`rot`), transform (`video_transform`), motion gating (`imotion_threshold`),
pacing (`play_speed`) and the cadence of detection (`VIDAR_DETECTION_RATE`)."""

import math
import time

import av
import cv2
import numpy as np

from vidar.models.stream_settings import VideoTransform
from vidar.orientation import UPRIGHT, Orientation
from vidar_detector.tracking_state import CadenceRecord

# Motion is measured on a grey thumbnail this wide, so it costs little and ignores noise.
MOTION_WIDTH = 64


# A turned frame is copied once, by OpenCV: the models need contiguous memory, and numpy's copy
# of a turned view of a 720p RGB frame takes about 10 ms where cv2.rotate takes about 1.
_TURNS = {
    Orientation(transpose=True, flip_rows=True): cv2.ROTATE_90_COUNTERCLOCKWISE,
    Orientation(transpose=True, flip_columns=True): cv2.ROTATE_90_CLOCKWISE,
    Orientation(flip_rows=True, flip_columns=True): cv2.ROTATE_180,
}
_FLIP_CODES = {(True, False): 0, (False, True): 1, (True, True): -1}  # cv2.flip's: around x, y, both


def upright(image: np.ndarray, orientation: Orientation) -> np.ndarray:
    """The stored picture (H x W x 3, uint8) as players show it: ffmpeg's autorotate."""
    if orientation == UPRIGHT:
        return image
    if orientation in _TURNS:
        return cv2.rotate(image, _TURNS[orientation])
    if orientation.transpose:  # a mirrored matrix: rare enough for two steps
        image = cv2.transpose(image)
    flip = _FLIP_CODES.get((orientation.flip_rows, orientation.flip_columns))
    return image if flip is None else cv2.flip(image, flip)


def transform(image: np.ndarray, how: VideoTransform) -> np.ndarray:
    """ImageMagick's names: Flip mirrors top-bottom, Flop left-right; rotations are clockwise."""
    match how:
        case "":
            return image
        case "Flip":
            return image[::-1]
        case "Flop":
            return image[:, ::-1]
        case "Transpose":
            return image.transpose(1, 0, *range(2, image.ndim))
        case "Transverse":
            return image[::-1, ::-1].transpose(1, 0, *range(2, image.ndim))
        case "Rotate90":
            return np.rot90(image, k=-1)
        case "Rotate180":
            return image[::-1, ::-1]
        case "Rotate270":
            return np.rot90(image, k=1)
    raise ValueError(f"unknown video_transform {how!r}")


class MotionGate:
    """`imotion_threshold`: the mean absolute difference, in grey levels (0-255), between a
    frame's thumbnail and the last frame that passed. 0 lets every frame through."""

    def __init__(self, threshold: float) -> None:
        self._threshold = threshold
        self._last: np.ndarray | None = None

    def passes(self, frame: av.VideoFrame) -> bool:
        if self._threshold <= 0:
            return True
        height = max(1, round(frame.height * MOTION_WIDTH / frame.width))
        thumbnail = frame.reformat(width=MOTION_WIDTH, height=height, format="gray").to_ndarray().astype(np.int16)
        if self._last is not None and float(np.abs(thumbnail - self._last).mean()) < self._threshold:
            return False
        self._last = thumbnail
        return True


class Pacer:
    """`play_speed` > 0 holds processing to that multiple of real time; when the worker falls
    behind, frames are dropped unless `disable_drops`."""

    def __init__(self, play_speed: float, disable_drops: bool) -> None:
        self._speed = play_speed
        self._drops = not disable_drops
        self._origin: tuple[float, float] | None = None  # (wall clock, media time) at the start

    def admit(self, media_time: float, frame_interval: float) -> bool:
        """Wait until the frame is due; False if it is late enough to be dropped."""
        if self._speed <= 0:
            return True
        now = time.monotonic()
        if self._origin is None:
            self._origin = (now, media_time)
        due = self._origin[0] + (media_time - self._origin[1]) / self._speed
        if now < due:
            time.sleep(due - now)
            return True
        return not (self._drops and now - due > frame_interval / self._speed)


class Cadence:
    """Which frames the models see: `rate` a second of video, on a grid of media time, so the
    same rate serves a 10 fps and a 30 fps video alike (a frame stride would not); the trackers
    bridge the frames between. 0, or a rate at or above the frame rate, is every frame."""

    def __init__(self, rate: float, fps: float) -> None:
        self._period = 1 / rate if rate > 0 else 0.0
        # A frame within half a frame of its grid point is on time.
        self._slack = 0.5 / fps
        self._next = -math.inf

    @property
    def steps_per_second(self) -> float:
        return 1 / max(self._period, 2 * self._slack)

    def state(self) -> CadenceRecord:
        return CadenceRecord(period=self._period, slack=self._slack, next_step=self._next)

    @classmethod
    def restored(cls, record: CadenceRecord) -> "Cadence":
        cadence = cls.__new__(cls)
        cadence._period, cadence._slack, cadence._next = record.period, record.slack, record.next_step
        return cadence

    def due(self, media_time: float) -> bool:
        if media_time + self._slack < self._next:
            return False
        if self._next == -math.inf or self._period == 0:
            self._next = media_time + self._period
        else:
            # The next grid point after this frame (frames may come late or be skipped).
            self._next += self._period * (1 + math.floor((media_time + self._slack - self._next) / self._period))
        return True
