"""What an archive shows about its source file, from the events of those who change or examine it:
`video.uploaded` (an upload or a fetched `url`: a new file, no problem known yet), storage's
`video.probed` (whether the file can be processed), `video.fetch.failed` and
`video.fetch.progress` (a `url` being fetched). The scheduler shows them, as it alone writes
`Notice`.

JetStream may redeliver an event, and each subject has its own consumer, so events may arrive out
of order: one is shown only while it is about the archive's current source (its object key, or
its url not fetched yet) and happened after the source event shown last (`source_noted_at`).
Those times are all storage's clock (storage commits uploads too), so no skew between hosts
orders them wrongly.

A problem shown is also kept with the file or url it is about (`source_problem`), so whether the
archive's source is ready, on its way or unusable (`vidar.documents.source_state`) never depends
on which of these events arrived first: a run held for its source is settled from that state,
after each event that may change it (`Scheduler.settle_held_run`)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vidar.documents import SOURCE_KEY, SOURCE_NOTED_AT, SOURCE_URL, Notice, updates
from vidar.health import ProcessingStatus
from vidar.models.events import VideoFetchFailed, VideoFetchProgress, VideoProbed, VideoUploaded


@dataclass(frozen=True)
class SourceNotice:
    """Which archive state an event may still be shown on, and what it shows there."""

    guard: dict[str, Any]
    shown: Callable[[ProcessingStatus], Notice]
    occurred_at: datetime

    def update(self, status: ProcessingStatus) -> dict[str, Any]:
        """The `$set` for an archive in `status` (the display of a good file is its status's)."""
        return updates(self.shown(status), Notice(noted_at=self.occurred_at))


def newer_than_shown(video_id: int, occurred_at: datetime) -> dict[str, Any]:
    """The archive, unless it shows a source event as recent as this one already."""
    # `$not` rather than a top-level `$or`: the embedded server plans no index for a `$` key, and
    # would scan every archive for each event. It matches a missing or null time too.
    return {"_id": video_id, SOURCE_NOTED_AT: {"$not": {"$gte": occurred_at}}}


def of_file(video_id: int, object_key: str, occurred_at: datetime) -> dict[str, Any]:
    """About the archive's current file (a newer upload or fetch replaces it)."""
    return {**newer_than_shown(video_id, occurred_at), SOURCE_KEY: object_key}


def of_fetch(video_id: int, url: str, occurred_at: datetime) -> dict[str, Any]:
    """About the archive's `url`, while it is not fetched (once it is, its file's events say more)."""
    return {**newer_than_shown(video_id, occurred_at), "url": url, SOURCE_URL: {"$ne": url}}


def after_upload(uploaded: VideoUploaded, occurred_at: datetime) -> SourceNotice:
    """A new file: an earlier file's or fetch's problem is over; its probe tells what it is."""
    guard = of_file(uploaded.video_id, uploaded.object_key, occurred_at)
    return SourceNotice(guard, Notice.good_source, occurred_at)


def after_probe(probed: VideoProbed, occurred_at: datetime) -> SourceNotice:
    """A file that cannot be processed shows why, whatever the status; a good one shows no error
    and the display of the archive's status."""
    guard = of_file(probed.video_id, probed.object_key, occurred_at)
    if probed.error:
        problem = Notice.unusable_source(probed.error, of=probed.object_key)
        return SourceNotice(guard, lambda _: problem, occurred_at)
    return SourceNotice(guard, Notice.good_source, occurred_at)


def after_fetch_failure(failed: VideoFetchFailed, occurred_at: datetime) -> SourceNotice:
    problem = Notice.unusable_source(failed.error, of=failed.url)
    return SourceNotice(of_fetch(failed.video_id, failed.url, occurred_at), lambda _: problem, occurred_at)


def during_fetch(progress: VideoFetchProgress, occurred_at: datetime) -> SourceNotice:
    """The note of a fetch's progress; one that arrives after its fetch failed or finished is older
    than what the archive shows, and changes nothing."""
    note = Notice.note(fetch_progress(progress.url, progress.received, progress.total))
    return SourceNotice(of_fetch(progress.video_id, progress.url, occurred_at), lambda _: note, occurred_at)


def fetch_progress(url: str, received: int, total: int | None) -> str:
    """The note shown while fetching: megabytes so far, of the whole when the server said."""
    of_total = f" of {total / 1e6:.1f}" if total else ""
    return f"Fetching {url}: {received / 1e6:.1f}{of_total} MB"
