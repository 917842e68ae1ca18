"""One run of one video: decode, gate, pace, hand frames on, count everything, checkpoint.

Runs in a worker thread; `stop` ends it within a frame, and `report` receives a checkpoint at
least every `progress_interval` seconds, with the handler's `snapshot` of its state at it. A
resumed run decodes again, from the earliest one, the frames its handler's restored state still
needs (`awaited_pts`), and goes on after the checkpoint.
"""

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vidar.metrics import FRAMES, PROCESSING_FPS
from vidar.models.jobs import Checkpoint, ObjectCounters, Statistic
from vidar.models.stream_settings import VideoTransform, ffmpeg_options
from vidar.objectstore import ObjectStore
from vidar_detector.decode import Decoded, FrameSource, NotDecodable
from vidar_detector.frames import MotionGate, Pacer, transform
from vidar_detector.geometry import Rectangle, crop
from vidar_detector.run_context import RunInput, detected_kinds


class JobFailure(Exception):
    """The run cannot go on; the message is for the user."""


# The admitted frame as the detectors see it (RGB, upright as displayed, after `rot` and
# `video_transform`), made when first asked for: converting every frame of a 720p video would
# cost more than decoding it.
Picture = Callable[[], np.ndarray]


class FrameHandler(Protocol):
    """What the job loop hands each admitted frame to (the detectors)."""

    def start(self, fps: float) -> None:
        """The video opened: its nominal frame rate."""
        ...

    def handle(self, picture: Picture, decoded: Decoded, timestamp: float, statistic: Statistic) -> None: ...

    def settle(self) -> None:
        """Done with every frame handled so far (it may work a few frames behind)."""
        ...

    def snapshot(self) -> bytes | None:
        """Its state after the last frame handled, for a checkpoint (None: it has none)."""
        ...

    @property
    def awaited_pts(self) -> set[int]:
        """Frames before the checkpoint that its restored state needs again."""
        ...

    def restore_picture(self, picture: Picture, decoded: Decoded) -> None:
        """One of the frames before the checkpoint, decoded again."""
        ...


class CountOnly:
    """No detector models: frames are only counted."""

    @property
    def awaited_pts(self) -> set[int]:
        return set()

    def start(self, fps: float) -> None:
        return None

    def handle(self, picture: Picture, decoded: Decoded, timestamp: float, statistic: Statistic) -> None:
        return None

    def settle(self) -> None:
        return None

    def snapshot(self) -> bytes | None:
        return None

    def restore_picture(self, picture: Picture, decoded: Decoded) -> None:
        return None


# Receives each checkpoint and a way to take the handler's state at it (in the job's thread).
Report = Callable[[Checkpoint, Callable[[], bytes | None]], None]


def starting_statistic(run: RunInput, checkpoint: Checkpoint | None) -> Statistic:
    if checkpoint is not None:
        return checkpoint.statistic.model_copy(deep=True)
    return Statistic(objects={kind: ObjectCounters() for kind in detected_kinds(run.stream_settings)})


@dataclass(slots=True)
class Tally:
    """Per-frame counters of the loop since they were last folded into the statistic."""

    processed: int = 0
    dropped: int = 0
    skipped: int = 0
    last_time: float | None = None
    fps: float = 0.0
    handled_before: int = 0

    @property
    def handled(self) -> int:
        return self.handled_before + self.processed + self.dropped + self.skipped


class Job:
    def __init__(
        self,
        run: RunInput,
        objects: ObjectStore,
        checkpoint: Checkpoint | None,
        report: Report,
        progress_interval: float,
        handler: FrameHandler | None = None,
    ) -> None:
        self._run_input = run
        self.statistic = starting_statistic(run, checkpoint)
        self.stop = threading.Event()
        self.stopped_early = False
        self._objects = objects
        self._resumed_from = checkpoint
        self._resume_after = checkpoint.pts if checkpoint else None
        self._last_pts = self._resume_after
        self._report = report
        self._interval = progress_interval
        self._handler = handler or CountOnly()
        self._tally = Tally()

    def run(self) -> Statistic:
        settings = self._run_input.stream_settings
        source = self._open()
        try:
            frames = iter(source)
            # The frame size as displayed is known from the first frame (its display matrix).
            first = next(frames, None)
            width, height = first.display_size if first else _stored_size(source)
            self.statistic.frame_width, self.statistic.frame_height = width, height
            self._handler.start(source.fps)
            area = self._area(settings.rot, width, height)
            gate = MotionGate(settings.imotion_threshold)
            pacer = Pacer(settings.play_speed, settings.disable_drops)
            self._loop(source, itertools.chain([first] if first else [], frames), area, gate, pacer)
        finally:
            self.statistic.decoding_soft_errors += source.soft_errors
            source.close()
        return self.statistic

    def _open(self) -> FrameSource:
        file = self._objects.reader(self._run_input.source.key, self._run_input.source.size)
        settings = self._run_input.stream_settings
        try:
            return FrameSource(
                file,
                ffmpeg_format=settings.ffmpeg_format,
                options=ffmpeg_options(settings.ffmpeg_params),
                start_pts=self._start_pts(),
            )
        except NotDecodable as error:
            raise JobFailure(f"The video cannot be decoded: {error}.") from error

    def _start_pts(self) -> int | None:
        """The first frame to decode: the earliest one the handler awaits, else the one after the
        checkpoint (stream positions are integers)."""
        if self._resume_after is None:
            return None
        return min(self._handler.awaited_pts, default=self._resume_after + 1)

    @staticmethod
    def _area(rot: str, width: int, height: int) -> Rectangle | None:
        area = Rectangle.parse(rot)
        if area is not None:
            try:
                area.check_inside(width, height, "rot")
            except ValueError as error:
                raise JobFailure(str(error)) from error
        return area

    def _loop(
        self, source: FrameSource, frames: Iterable[Decoded], area: Rectangle | None, gate: MotionGate, pacer: Pacer
    ) -> None:
        settings = self._run_input.stream_settings
        pacing, gating = settings.play_speed > 0, settings.imotion_threshold > 0
        frame_interval = 1 / source.fps
        tally = self._tally
        started = last_report = time.monotonic()
        for decoded in frames:
            if self.stop.is_set():
                self.stopped_early = True
                break
            if self._resume_after is not None and decoded.pts <= self._resume_after:
                self._handler.restore_picture(_picture(decoded, area, settings.video_transform), decoded)
                last_report = self._heartbeat(last_report)
                continue
            if pacing and not pacer.admit(decoded.time, frame_interval):
                tally.dropped += 1
            elif gating and not gate.passes(decoded.frame):
                tally.skipped += 1
            else:
                picture = _picture(decoded, area, settings.video_transform)
                self._handler.handle(picture, decoded, self._timestamp(decoded), self.statistic)
                tally.processed += 1
            tally.last_time, self._last_pts = decoded.time, decoded.pts
            now = time.monotonic()
            if now - last_report >= self._interval:
                tally.fps = tally.handled / (now - started)
                self._handler.settle()  # the checkpoint's counters and tracking state agree
                self._report(self.checkpoint(source.soft_errors), self._handler.snapshot)
                last_report = now
        elapsed = time.monotonic() - started
        tally.fps = tally.handled / elapsed if elapsed > 0 else 0.0
        self._fold_tally()

    def _heartbeat(self, last_report: float) -> float:
        """While the frames before the checkpoint are decoded again (minutes of video, if a track
        has lived that long), the checkpoint resumed from is reported as it is: the scheduler keeps
        hearing from the run, and a crash now resumes from it again."""
        now = time.monotonic()
        if now - last_report < self._interval:
            return last_report
        assert self._resumed_from is not None, "only a resumed run decodes frames again"
        self._report(self._resumed_from, lambda: None)
        return now

    def _timestamp(self, decoded: Decoded) -> float:
        """The time objects in this frame carry: the stream's own clock shifted by
        `start_stream_timestamp` when `use_stream_timestamp`, else the wall clock (Unix seconds)."""
        settings = self._run_input.stream_settings
        if settings.use_stream_timestamp:
            return settings.start_stream_timestamp + decoded.time
        return time.time()

    def checkpoint(self, pending_soft_errors: int = 0) -> Checkpoint:
        self._fold_tally()
        statistic = self.statistic.model_copy(deep=True)
        statistic.decoding_soft_errors += pending_soft_errors
        return Checkpoint(pts=self._last_pts, statistic=statistic)

    def _fold_tally(self) -> None:
        """Move the loop's plain counters into the statistic (cheaper than updating it per frame)."""
        tally, statistic = self._tally, self.statistic
        FRAMES.labels("processed").inc(tally.processed)
        FRAMES.labels("dropped").inc(tally.dropped)
        FRAMES.labels("imotion_skipped").inc(tally.skipped)
        PROCESSING_FPS.set(tally.fps)
        statistic.frames_processed += tally.processed
        statistic.frames_dropped += tally.dropped
        statistic.frames_imotion_skipped += tally.skipped
        if tally.last_time is not None:
            statistic.last_stream_timestamp = statistic.processed_duration = tally.last_time
        statistic.processing_fps = tally.fps
        tally.handled_before = tally.handled
        tally.processed = tally.dropped = tally.skipped = 0


def _picture(decoded: Decoded, area: Rectangle | None, how: VideoTransform) -> Picture:
    return lambda: transform(crop(decoded.rgb(), area), how)


def _stored_size(source: FrameSource) -> tuple[int, int]:
    return source.stream.codec_context.width, source.stream.codec_context.height
