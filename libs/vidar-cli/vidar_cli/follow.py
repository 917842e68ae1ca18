"""Waiting on an archive's run to end, with live progress."""

import time

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


def status_of(video: dict) -> str:
    return video["health_status"]["status"]


def _progress_line(video: dict) -> dict:
    statistic = video["health_status"].get("statistic") or {}
    done, length = statistic.get("processed_duration") or 0.0, video["source_len"]
    if status_of(video) == "COMPLETED":
        # The last frame starts a frame's time before the end: a finished run shows 100 %.
        done = length or done
    return {
        "description": f"archive {video['id']} {status_of(video)}",
        "total": length or None,
        "completed": done,
        "position": f"{done:.1f}/{length or 0:.1f} s",
        "fps": f"{statistic.get('processing_fps') or 0:.0f} fps",
    }


class RunWatch:
    """Tells when the run asked for has ended. Processing is asynchronous: right after the
    request the archive may still show its previous run's end (COMPLETED, FAILED, STOPPED),
    and a quick run may pass QUEUED and INPROGRESS between two polls, so an end counts once
    the archive was busy, or was idle before, or has started a run since (`job_starts`)."""

    def __init__(self, before: dict) -> None:
        self._ended_before = status_of(before) in EXIT_CODES
        self._starts_before = _job_starts(before)
        self._seen_busy = False

    def ended(self, video: dict) -> bool:
        status = status_of(video)
        self._seen_busy = self._seen_busy or status in BUSY
        if status not in EXIT_CODES:
            return False
        return self._seen_busy or not self._ended_before or _job_starts(video) > self._starts_before


def _job_starts(video: dict) -> int:
    return (video["health_status"].get("statistic") or {}).get("job_starts") or 0


def follow_run(api: Api, before: dict, deadline: Deadline) -> int:
    """Shows the run's progress (processed stream seconds against the source's length) until
    it ends; the exit code for how it ended (EXIT_CODES), or TIMED_OUT. `before` is the
    archive as the processing request returned it."""
    watch, video_id = RunWatch(before), before["id"]
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    fields = (TextColumn("{task.fields[position]}"), TextColumn("{task.fields[fps]}"))
    with Progress(*columns, *fields, TimeElapsedColumn(), console=stderr()) as progress:
        task = progress.add_task(f"archive {video_id}", total=None, position="", fps="")
        while True:
            video = api.get(f"/videos/{video_id}/")
            ended = watch.ended(video)
            if ended or status_of(video) in BUSY:
                progress.update(task, **_progress_line(video))
            if ended or deadline.passed():
                break
            time.sleep(POLL_INTERVAL)
    if not ended:
        stderr().print(f"archive {video_id} still {status_of(video)} after {deadline.seconds} s")
        return TIMED_OUT
    return _report_end(video)


def _report_end(video: dict) -> int:
    status = status_of(video)
    detail = f": {escape(video['error'])}" if video.get("error") else ""
    style = {"COMPLETED": "green", "FAILED": "red"}.get(status, "yellow")
    stderr().print(f"archive {video['id']} [{style}]{status}[/]{detail}")
    return EXIT_CODES[status]
