"""The job loop on real footage, read from local files (a pure in-memory stand-in for S3)."""

import threading
from pathlib import Path

import pytest

from vidar.models.jobs import Checkpoint, JobDispatch, SourceFile, Statistic
from vidar.models.stream_settings import StreamSettings
from vidar_detector.decode import Decoded
from vidar_detector.job import CountOnly, Job, JobFailure, Picture


class LocalFiles:
    """Object keys are local paths."""

    def reader(self, key: str, size: int):
        return Path(key).open("rb")


class Recorder(CountOnly):
    def __init__(
        self, stop_after: int | None = None, stop: threading.Event | None = None, awaited: set[int] | None = None
    ) -> None:
        self.shapes: list[tuple[int, ...]] = []
        self.timestamps: list[float] = []
        self.pts: list[int] = []
        self._stop_after, self._stop = stop_after, stop
        self.fps: float | None = None
        self._awaited = awaited or set()
        self.restored: list[tuple[int, tuple[int, ...]]] = []

    @property
    def awaited_pts(self) -> set[int]:
        return self._awaited

    def restore_picture(self, picture: Picture, decoded: Decoded) -> None:
        if decoded.pts in self._awaited:
            self.restored.append((decoded.pts, picture().shape))

    def start(self, fps: float) -> None:
        self.fps = fps

    def handle(self, picture: Picture, decoded: Decoded, timestamp: float, statistic: Statistic) -> None:
        self.shapes.append(picture().shape)
        self.timestamps.append(timestamp)
        self.pts.append(decoded.pts)
        if self._stop_after and len(self.pts) == self._stop_after:
            self._stop.set()


def job_for(path: Path, handler: Recorder | None = None, checkpoint: Checkpoint | None = None, **settings) -> Job:
    dispatch = JobDispatch(
        run_id="run",
        video_id=1,
        camera_group=1,
        source=SourceFile(key=str(path), size=path.stat().st_size),
        stream_settings=StreamSettings.model_validate(settings),
    )
    reports: list[Checkpoint] = []
    report = lambda checkpoint, _snapshot: reports.append(checkpoint)  # noqa: E731
    job = Job(dispatch, LocalFiles(), checkpoint, report, progress_interval=0.0, handler=handler)
    job.reports = reports
    return job


def test_every_frame_is_counted_and_reported(videos: Path) -> None:
    job = job_for(videos / "carphone_pristine.mp4")
    statistic = job.run()
    assert (statistic.frames_processed, statistic.frame_width, statistic.frame_height) == (120, 176, 144)
    assert statistic.last_stream_timestamp == pytest.approx(119 / 29.97, abs=0.01)
    assert statistic.processing_fps > 0
    assert job.reports, "a checkpoint at least every progress_interval"
    assert job.reports[-1].statistic.frames_processed <= 120


def test_crop_and_transform_shape_what_the_detectors_see(videos: Path) -> None:
    handler = Recorder()
    job_for(videos / "carphone_pristine.mp4", handler, rot="100x60+10+20", video_transform="Rotate90").run()
    assert set(handler.shapes) == {(100, 60, 3)}


def test_stream_timestamps_start_where_asked(videos: Path) -> None:
    handler = Recorder()
    job_for(videos / "vtest.avi", handler, use_stream_timestamp=True, start_stream_timestamp=1000).run()
    assert handler.timestamps[0] == pytest.approx(1000.0)
    assert handler.timestamps[-1] == pytest.approx(1079.4)


def test_wall_clock_timestamps_by_default(videos: Path) -> None:
    import time

    handler = Recorder()
    job_for(videos / "carphone_pristine.mp4", handler).run()
    assert abs(handler.timestamps[-1] - time.time()) < 60


def test_motion_gate_skips_still_frames_of_real_footage(videos: Path) -> None:
    statistic = job_for(videos / "vtest.avi", imotion_threshold=4).run()
    assert statistic.frames_imotion_skipped > 0
    assert statistic.frames_processed + statistic.frames_imotion_skipped == 795


def stopped_after(frames: int, path: Path) -> tuple[Recorder, Job]:
    """A run of `path` stopped after `frames` frames."""
    stop = threading.Event()
    first = Recorder(stop_after=frames, stop=stop)
    job = job_for(path, first)
    job.stop = stop
    job.run()
    return first, job


def test_a_stopped_run_resumes_after_its_checkpoint(videos: Path) -> None:
    first, job = stopped_after(300, videos / "vtest.avi")
    assert job.stopped_early
    checkpoint = job.checkpoint()
    assert checkpoint.statistic.frames_processed == 300

    second = Recorder()
    resumed = job_for(videos / "vtest.avi", second, checkpoint=checkpoint).run()
    assert resumed.frames_processed == 795
    assert first.pts + second.pts == sorted(set(first.pts + second.pts)), "no frame twice, none lost"
    assert len(first.pts + second.pts) == 795


def test_a_resumed_run_decodes_again_the_frames_its_restored_state_awaits(videos: Path) -> None:
    first, job = stopped_after(300, videos / "vtest.avi")
    checkpoint = job.checkpoint()
    awaited = {first.pts[150], first.pts[290]}

    second = Recorder(awaited=awaited)
    resumed_job = job_for(videos / "vtest.avi", second, checkpoint=checkpoint)
    resumed = resumed_job.run()
    assert second.restored == [(pts, (576, 768, 3)) for pts in sorted(awaited)], "those frames, as the run saw them"
    assert second.pts[0] > checkpoint.pts, "frames before the checkpoint are not handled twice"
    assert resumed.frames_processed == 795
    replay_reports = [report for report in resumed_job.reports if report.pts == checkpoint.pts]
    assert len(replay_reports) >= 140, "the heartbeat goes on while frames 150 to 300 are decoded again"
    assert replay_reports[0] is checkpoint, "as resumed from, tracking state and all"


def test_a_rot_outside_the_frame_fails_clearly(videos: Path) -> None:
    with pytest.raises(JobFailure, match="not inside the 176x144 frame"):
        job_for(videos / "carphone_pristine.mp4", rot="200x100+0+0").run()
