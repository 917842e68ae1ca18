"""What a source file is (PyAV), and a frame of it as a JPEG screenshot, both as players show
it: a phone's video is stored sideways with a display matrix that turns it upright."""

import io
import math
from dataclasses import dataclass
from typing import BinaryIO

import av
from av.container import InputContainer
from PIL import Image

from vidar.orientation import display_orientation

# Where the default screenshot is taken: a tenth into the video, past black lead-ins.
SCREENSHOT_AT = 0.1


class NotAVideo(Exception):
    """The file cannot be processed; the message is for the user."""


class NoSuchFrame(Exception):
    """The video has no frame at the time asked for; the message is for the user."""


@dataclass(frozen=True)
class Probe:
    source_len: float
    frame_width: int
    frame_height: int
    fps: float
    codec: str
    frame_count: int


def probe(file: BinaryIO, jpeg_quality: int) -> tuple[Probe, bytes]:
    """What the file is, and its default screenshot (one pass over one opened container)."""
    with _open(file) as container:
        stream = _video_stream(container)
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        duration = _duration(container)
        first = _frame_at(container, stream, 0.0)  # a file whose first frame does not decode is unusable
        width, height = display_orientation(first).size(stream.codec_context.width, stream.codec_context.height)
        probed = Probe(
            source_len=duration,
            frame_width=width,
            frame_height=height,
            fps=fps,
            codec=stream.codec_context.name,
            frame_count=stream.frames or round(duration * fps),
        )
        return probed, _jpeg(_frame_at(container, stream, SCREENSHOT_AT * duration), jpeg_quality)


def screenshot(file: BinaryIO, timestamp: float | None, jpeg_quality: int) -> bytes:
    """A JPEG of the frame at `timestamp` seconds (default: a tenth into the video). A video
    that does not say how long it is cannot be searched, so it has no screenshot."""
    with _open(file) as container:
        stream = _video_stream(container)
        duration = _duration(container)
        at = SCREENSHOT_AT * duration if timestamp is None else _within(timestamp, duration)
        return _jpeg(_frame_at(container, stream, at), jpeg_quality)


def _within(timestamp: float, duration: float) -> float:
    if not math.isfinite(timestamp) or timestamp < 0:
        raise NoSuchFrame(f"the timestamp must be a finite number of seconds from 0, not {timestamp}")
    if timestamp > duration:
        raise NoSuchFrame(f"the timestamp {timestamp:g} s is past the end of the video ({duration:g} s)")
    return timestamp


def _jpeg(frame: av.VideoFrame, quality: int) -> bytes:
    image = io.BytesIO()
    _upright(frame).save(image, format="JPEG", quality=quality)
    return image.getvalue()


def _upright(frame: av.VideoFrame) -> Image.Image:
    orientation = display_orientation(frame)
    image = frame.to_image()
    if orientation.transpose:
        image = image.transpose(Image.Transpose.TRANSPOSE)
    if orientation.flip_rows:
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    if orientation.flip_columns:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image


def _open(file: BinaryIO) -> InputContainer:
    try:
        return av.open(file, mode="r")
    except av.error.FFmpegError as error:
        raise NotAVideo("The file is not a readable video: it is corrupt, truncated or not a video at all.") from error


def _video_stream(container: InputContainer) -> av.VideoStream:
    if not container.streams.video:
        raise NotAVideo("The file has no video stream (is it audio only?).")
    stream = container.streams.video[0]
    if not stream.codec_context.width:
        raise NotAVideo(f"The video stream ({stream.codec_context.name}) has no frame size: it cannot be decoded.")
    return stream


def _duration(container: InputContainer) -> float:
    stream = container.streams.video[0]
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    raise NotAVideo(
        "The video does not say how long it is (a raw stream with no container, or a truncated file): "
        "it cannot be searched."
    )


def _frame_at(container: InputContainer, stream: av.VideoStream, at: float) -> av.VideoFrame:
    if at > 0 and stream.time_base:
        try:
            container.seek(int(at / stream.time_base), stream=stream, backward=True, any_frame=False)
        except av.error.FFmpegError as error:
            raise NotAVideo(f"The video cannot be searched for the frame at {at:g} s ({error.strerror}).") from error
    frame = None
    try:
        for frame in container.decode(stream):
            if frame.time is None or frame.time >= at:
                return frame
    except av.error.FFmpegError as error:
        raise NotAVideo(f"The video is corrupt: decoding failed ({error.strerror}).") from error
    if frame is None:
        raise NotAVideo("The video is corrupt or truncated: no frame could be decoded.")
    return frame
