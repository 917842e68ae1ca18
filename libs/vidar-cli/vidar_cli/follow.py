"""Waiting on an archive's run to end, with live progress."""

import time
from dataclasses import dataclass
from typing import Any, Self

from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from vidar_cli.api import Api, stderr

# The detector reports progress once a second; polling faster shows nothing new.
POLL_INTERVAL = 1.0


# The health_status.status values a wait acts on (the API's ProcessingStatus has them all): a
# run is under way in BUSY, and has ended in one of EXIT_CODES, which `--follow` exits with so
# that a script can tell how it ended.
BUSY = ("QUEUED", "INPROGRESS")
EXIT_CODES = {"COMPLETED": 0, "FAILED": 1, "STOPPED": 2}
TIMED_OUT = 3


class Deadline:
    """When a wait gives up; None waits for ever."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._end = None if seconds is None else time.monotonic() + seconds

    def passed(self) -> bool:
        return self._end is not None and time.monotonic() > self._end


@dataclass(frozen=True)
class RunView:
    """What a wait reads of an archive as the API shows it (GET /videos/{id}/): the CLI speaks to
    the HTTP API alone, so this is its own typed read of the response, in one place."""

    video_id: int
    status: str
    source_len: float | None
    processed_duration: float
    processing_fps: float
    job_starts: int
    error: str | None

    @classmethod
    def of(cls, video: dict[str, Any]) -> Self:
        health_status = video["health_status"]
        statistic = health_status.get("statistic") or {}
        return cls(
            video_id=video["id"],
            status=health_status["status"],
            source_len=video.get("source_len"),
            processed_duration=statistic.get("processed_duration") or 0.0,
            processing_fps=statistic.get("processing_fps") or 0.0,
            job_starts=statistic.get("job_starts") or 0,
            error=video.get("error"),
        )


def status_of(video: dict[str, Any]) -> str:
    return RunView.of(video).status


def _progress_line(video: RunView) -> dict[str, Any]:
    done, length = video.processed_duration, video.source_len
    if video.status == "COMPLETED":
        # The last frame starts a frame's time before the end: a finished run shows 100 %.
        done = length or done
    return {
        "description": f"archive {video.video_id} {video.status}",
        "total": length or None,
        "completed": done,
        "position": f"{done:.1f}/{length or 0:.1f} s",
        "fps": f"{video.processing_fps:.0f} fps",
    }


class RunWatch:
    """Tells when the run asked for has ended. Processing is asynchronous: right after the
    request the archive may still show its previous run's end (COMPLETED, FAILED, STOPPED),
    and a quick run may pass QUEUED and INPROGRESS between two polls, so an end counts once
    the archive was busy, or was idle before, or has started a run since (`job_starts`)."""

    def __init__(self, before: RunView) -> None:
        self._ended_before = before.status in EXIT_CODES
        self._starts_before = before.job_starts
        self._seen_busy = False

    def ended(self, video: RunView) -> bool:
        self._seen_busy = self._seen_busy or video.status in BUSY
        if video.status not in EXIT_CODES:
            return False
        return self._seen_busy or not self._ended_before or video.job_starts > self._starts_before


def follow_run(api: Api, before: dict[str, Any], deadline: Deadline) -> int:
    """Shows the run's progress (processed stream seconds against the source's length) until
    it ends; the exit code for how it ended (EXIT_CODES), or TIMED_OUT. `before` is the
    archive as the processing request returned it."""
    watch, video_id = RunWatch(RunView.of(before)), before["id"]
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    fields = (TextColumn("{task.fields[position]}"), TextColumn("{task.fields[fps]}"))
    with Progress(*columns, *fields, TimeElapsedColumn(), console=stderr()) as progress:
        task = progress.add_task(f"archive {video_id}", total=None, position="", fps="")
        while True:
            video = RunView.of(api.get(f"/videos/{video_id}/"))
            ended = watch.ended(video)
            if ended or video.status in BUSY:
                progress.update(task, **_progress_line(video))
            if ended or deadline.passed():
                break
            time.sleep(POLL_INTERVAL)
    if not ended:
        stderr().print(f"archive {video_id} still {video.status} after {deadline.seconds} s")
        return TIMED_OUT
    return _report_end(video)


def _report_end(video: RunView) -> int:
    detail = f": {escape(video.error)}" if video.error else ""
    style = {"COMPLETED": "green", "FAILED": "red"}.get(video.status, "yellow")
    stderr().print(f"archive {video.video_id} [{style}]{video.status}[/]{detail}")
    return EXIT_CODES[video.status]
