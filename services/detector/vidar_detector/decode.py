"""Decoding in a thread of its own: PyAV releases the GIL while FFmpeg decodes, so decoding
overlaps with whatever the job loop does with the previous frames."""

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import av
import numpy as np

from vidar.orientation import UPRIGHT, Orientation, display_orientation
from vidar_detector.frames import upright

_END = object()
_PUT_TIMEOUT = 0.2


class NotDecodable(Exception):
    """The source cannot be decoded at all; the message is for the user."""


@dataclass(frozen=True)
class Decoded:
    """A frame as stored, and how it is displayed: pictures are made upright, positions (`pts`)
    are the stream's, so a checkpoint names the same frame whatever the orientation."""

    frame: av.VideoFrame
    pts: int
    time: float
    orientation: Orientation = UPRIGHT

    def rgb(self) -> np.ndarray:
        return upright(self.frame.to_ndarray(format="rgb24"), self.orientation)

    @property
    def display_size(self) -> tuple[int, int]:
        return self.orientation.size(self.frame.width, self.frame.height)


class FrameSource:
    """Frames of the first video stream, in order, from `start_pts` on if given. Packets that
    fail to decode are skipped and counted in `soft_errors`."""

    def __init__(
        self,
        file: BinaryIO,
        *,
        ffmpeg_format: str = "",
        options: dict[str, str] | None = None,
        start_pts: int | None = None,
        capacity: int = 16,
    ) -> None:
        try:
            self._container = av.open(file, mode="r", format=ffmpeg_format or None, options=options or {})
        except av.error.FFmpegError as error:  # before ValueError: some are both
            raise NotDecodable(f"the source cannot be opened: {error.strerror}") from error
        except ValueError as error:
            raise NotDecodable(f"unknown ffmpeg_format {ffmpeg_format!r}") from error
        if not self._container.streams.video:
            self._container.close()
            raise NotDecodable("the source has no video stream")
        self.stream = self._container.streams.video[0]
        self.soft_errors = 0
        self._start = start_pts
        self._frames: queue.Queue = queue.Queue(maxsize=capacity)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._decode, name="decoder", daemon=True)

    @property
    def fps(self) -> float:
        return float(self.stream.average_rate or self.stream.guessed_rate or 25)

    def __iter__(self) -> Iterator[Decoded]:
        self._thread.start()
        while (item := self._frames.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join()
        self._container.close()

    def _decode(self) -> None:
        try:
            if self._start is not None:
                self._container.seek(self._start, stream=self.stream, backward=True)
            orientation = None
            for index, frame in enumerate(self._frames_of_packets()):
                # Read once: the matrix is the stream's, and reading a frame's side data ties the
                # frame in a reference cycle, so each read frame would wait for the cyclic garbage
                # collector (a 720p run's peak memory grew by about 500 MB).
                if orientation is None:
                    orientation = display_orientation(frame)
                pts = frame.pts if frame.pts is not None else index
                if self._start is not None and pts < self._start:
                    continue
                time = float(frame.time) if frame.time is not None else index / self.fps
                if not self._put(Decoded(frame, pts, time, orientation)):
                    return
        except Exception as error:
            self._put(error)
        finally:
            self._put(_END)

    def _frames_of_packets(self) -> Iterator[av.VideoFrame]:
        for packet in self._container.demux(self.stream):
            try:
                yield from packet.decode()
            except av.error.InvalidDataError:
                self.soft_errors += 1

    def _put(self, item: object) -> bool:
        """Hand over `item` unless the consumer is closing; whether it was handed over."""
        while not self._closing.is_set():
            try:
                self._frames.put(item, timeout=_PUT_TIMEOUT)
                return True
            except queue.Full:
                continue
        return False
