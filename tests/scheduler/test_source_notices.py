"""What the scheduler shows of storage's and the uploader's source events, on plain values: each
event's guard is matched against stored archives here, as MongoDB would. No servers."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vidar.documents import SourceState, source_state, why_unusable
from vidar.health import STATUS_DISPLAY, ProcessingStatus
from vidar.models.events import VideoFetchFailed, VideoFetchProgress, VideoProbed, VideoUploaded
from vidar_scheduler.lifecycle import status_update
from vidar_scheduler.source_notices import (
    SourceNotice,
    after_fetch_failure,
    after_probe,
    after_upload,
    during_fetch,
    fetch_progress,
)

S = ProcessingStatus
T0 = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
KEY = "videos/7/source/abc"
URL = "http://media.example/clip.mp4"
NOT_A_VIDEO = "The file is not a readable video: it is corrupt, truncated or not a video at all."
NOT_FOUND = f"Could not fetch {URL}: the server answered 404."


def stored(path: str, doc: dict) -> Any:
    for name in path.split("."):
        doc = doc.get(name) if isinstance(doc, dict) else None
    return doc


def matches(guard: dict[str, Any], doc: dict) -> bool:
    """MongoDB's match of the operators the guards use: equality (None: missing too), $ne and
    $not of $gte (true of a missing or null value)."""
    for path, condition in guard.items():
        if isinstance(condition, dict):
            value = stored(path, doc)
            if "$ne" in condition and value == condition["$ne"]:
                return False
            if "$not" in condition and value is not None and value >= condition["$not"]["$gte"]:
                return False
        elif stored(path, doc) != condition:
            return False
    return True


def archive(**fields: Any) -> dict:
    return {"_id": 7, "url": None, "source": {"key": KEY}, "source_noted_at": None, **fields}


def shown_on(doc: dict, notice: SourceNotice, status: ProcessingStatus = S.NOT_STARTED) -> dict | None:
    """The `$set` the event writes on `doc`, or None when it leaves it alone."""
    return notice.update(status) if matches(notice.guard, doc) else None


def probed(error: str | None = None, key: str = KEY) -> VideoProbed:
    return VideoProbed(video_id=7, object_key=key, source_len=4.0, frame_width=176, frame_height=144, error=error)


@pytest.mark.parametrize("status", list(ProcessingStatus))
def test_a_good_file_shows_no_error_and_the_display_of_the_archives_status(status: ProcessingStatus) -> None:
    shown = shown_on(archive(), after_probe(probed(), T0), status)
    code, code_desc = STATUS_DISPLAY[status]
    assert shown == {
        "error": None,
        "health_status.code": code,
        "health_status.code_desc": code_desc,
        "health_status.msg": "",
        "source_noted_at": T0,
        "source_problem": None,
    }
    assert "health_status.status" not in shown  # the status is the run's business, not the file's


@pytest.mark.parametrize("status", list(ProcessingStatus))
def test_a_file_that_cannot_be_processed_shows_why_whatever_the_status(status: ProcessingStatus) -> None:
    shown = shown_on(archive(), after_probe(probed(NOT_A_VIDEO), T0), status)
    assert shown == {
        "error": NOT_A_VIDEO,
        "health_status.code": "red",
        "health_status.code_desc": "Source file problem",
        "health_status.msg": NOT_A_VIDEO,
        "source_noted_at": T0,
        "source_problem": {"of": KEY, "error": NOT_A_VIDEO},  # kept with its file, whatever a run shows later
    }


def test_an_event_about_a_replaced_file_changes_nothing() -> None:
    newer = archive(source={"key": "videos/7/source/newer"})
    assert shown_on(newer, after_probe(probed(NOT_A_VIDEO), T0)) is None
    upload = VideoUploaded(video_id=7, object_key=KEY, size=1, content_type="video/mp4", sha256="0" * 64)
    assert shown_on(newer, after_upload(upload, T0)) is None


def test_a_new_file_clears_an_earlier_files_problem_but_not_its_own_probes() -> None:
    upload = VideoUploaded(video_id=7, object_key=KEY, size=1, content_type="video/mp4", sha256="0" * 64)
    earlier_problem = archive(error=NOT_A_VIDEO, source_noted_at=T0 - timedelta(minutes=1))
    cleared = shown_on(earlier_problem, after_upload(upload, T0))
    assert cleared["error"] is None
    # Storage commits uploads too, so its time orders it among the file's other events.
    assert cleared["source_noted_at"] == T0
    # The upload's event arrives after the probe of the same file (consumers run side by side).
    probe_shown = archive(error=NOT_A_VIDEO, source_noted_at=T0 + timedelta(seconds=1))
    assert shown_on(probe_shown, after_upload(upload, T0)) is None


def test_a_redelivered_event_writes_nothing_again() -> None:
    assert shown_on(archive(source_noted_at=T0), after_probe(probed(), T0)) is None


def fetching(**fields: Any) -> dict:
    """An archive whose url is being fetched: it has no source file yet."""
    return archive(**{"url": URL, "source": None, **fields})


def progress(received: int, at: datetime) -> SourceNotice:
    return during_fetch(VideoFetchProgress(video_id=7, url=URL, received=received, total=10_000_000), at)


def test_a_fetch_shows_its_progress_and_keeps_the_rest_of_the_display() -> None:
    shown = shown_on(fetching(), progress(2_500_000, T0))
    assert shown == {"health_status.msg": f"Fetching {URL}: 2.5 of 10.0 MB", "source_noted_at": T0}


def test_a_late_progress_note_does_not_hide_the_fetchs_failure() -> None:
    failure = shown_on(fetching(), after_fetch_failure(VideoFetchFailed(video_id=7, url=URL, error=NOT_FOUND), T0))
    assert failure["error"] == failure["health_status.msg"] == NOT_FOUND
    assert failure["source_problem"] == {"of": URL, "error": NOT_FOUND}
    failed = fetching(**failure)
    assert shown_on(failed, progress(1_000_000, T0 - timedelta(seconds=1))) is None
    # A fetch of the same url again (the archive was saved again) shows its progress.
    assert shown_on(failed, progress(1_000_000, T0 + timedelta(seconds=5))) is not None


def test_fetch_events_change_nothing_once_the_url_is_fetched_or_changed() -> None:
    failed = after_fetch_failure(VideoFetchFailed(video_id=7, url=URL, error=NOT_FOUND), T0)
    fetched = archive(url=URL, source={"key": KEY, "url": URL})
    assert shown_on(fetched, failed) is None
    assert shown_on(fetched, progress(1_000_000, T0)) is None
    changed = fetching(url="http://media.example/other.mp4")
    assert shown_on(changed, failed) is None
    assert shown_on(changed, progress(1_000_000, T0)) is None


def test_fetch_progress_shows_megabytes_of_the_whole_when_known() -> None:
    assert fetch_progress(URL, 2_500_000, 10_000_000) == f"Fetching {URL}: 2.5 of 10.0 MB"
    assert fetch_progress(URL, 2_500_000, None) == f"Fetching {URL}: 2.5 MB"


def test_a_sync_that_finds_a_problem_shown_keeps_it() -> None:
    _, update = status_update(7, S.NOT_STARTED, display=False)
    assert update["$set"]["health_status.status"] == "NOT_STARTED"
    assert not {"error", "health_status.code", "health_status.code_desc", "health_status.msg"} & set(update["$set"])


def shown_in_turn(doc: dict, *notices: SourceNotice) -> dict:
    """`doc` after each event in turn, as the scheduler writes them."""
    for notice in notices:
        doc = {**doc, **(shown_on(doc, notice) or {})}
    return doc


@pytest.mark.parametrize("probe_first", [False, True], ids=["in-order", "probe-overtakes-upload"])
def test_a_files_failed_probe_makes_it_unusable_whichever_event_comes_first(probe_first: bool) -> None:
    upload = after_upload(VideoUploaded(video_id=7, object_key=KEY, size=1, content_type="video/mp4", sha256="0"), T0)
    probe = after_probe(probed(NOT_A_VIDEO), T0 + timedelta(seconds=1))
    doc = shown_in_turn(archive(), *((probe, upload) if probe_first else (upload, probe)))
    assert source_state(doc) is SourceState.UNUSABLE
    assert why_unusable(doc) == NOT_A_VIDEO


def test_a_problem_of_a_replaced_file_does_not_make_the_new_one_unusable() -> None:
    problem_shown = shown_in_turn(archive(), after_probe(probed(NOT_A_VIDEO), T0))
    # A new upload is committed; its `video.uploaded` has not been shown yet.
    new_file = {**problem_shown, "source": {"key": "videos/7/source/newer"}}
    assert source_state(new_file) is SourceState.PROBING
    assert why_unusable(new_file) is None


def test_a_fetch_failure_makes_the_url_unusable_until_the_url_changes() -> None:
    failed = shown_in_turn(fetching(), after_fetch_failure(VideoFetchFailed(video_id=7, url=URL, error=NOT_FOUND), T0))
    assert (source_state(failed), why_unusable(failed)) == (SourceState.UNUSABLE, NOT_FOUND)
    assert source_state({**failed, "url": "http://media.example/other.mp4"}) is SourceState.FETCHING
