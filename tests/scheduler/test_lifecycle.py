"""The scheduler's decisions on plain values: no servers, each test well under a second."""

import json
from datetime import UTC, datetime

import pytest

from vidar import subjects
from vidar.dead_letters import DeadLetter
from vidar.documents import JobRecord
from vidar.health import STATUS_DISPLAY, ProcessingStatus
from vidar.models.jobs import Checkpoint, JobEnded, JobProgress, JobStarted, JobState, ProcessRequested, Statistic
from vidar.models.stream_settings import StreamSettings
from vidar_scheduler.lifecycle import (
    RUN_TAKEN_OVER,
    StatusChange,
    after_run,
    attempt_end,
    attempt_report,
    attempt_start,
    free_slots,
    new_job,
    queues_a_run,
    run_dispatch,
    run_entered,
    run_queued,
    same_source,
    showing_the_plain_status,
    stall_note,
    status_update,
    takeover_stop,
    waiting_note,
)
from vidar_scheduler.lost_events import lost_event_display, run_to_fail

S = ProcessingStatus
NOW = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
UPLOADED = {"key": "videos/7/source/abc", "size": 1000, "content_type": "video/mp4", "sha256": "0" * 64}
SOURCE = {**UPLOADED, "fps": 10.0, "codec": "h264", "frame_count": 40}  # probed
URL = "http://media.example/clip.mp4"
NOT_A_VIDEO = "The file is not a readable video: it is corrupt, truncated or not a video at all."


def archive(status: ProcessingStatus, **fields: object) -> dict:
    """A stored archive as the scheduler reads it."""
    return {
        "_id": 7,
        "camera_group": 1,
        "router_url": None,
        "source": SOURCE,
        "health_status": {"status": status.value, "statistic": {"job_starts": 2}},
        **fields,
    }


@pytest.mark.parametrize(
    ("status", "queues"),
    [
        (S.WAITING_FOR_SYNC, True),  # asked for before the scheduler synced it
        (S.NOT_STARTED, True),
        (S.QUEUED, False),  # asking again while queued changes nothing
        (S.INPROGRESS, False),
        (S.COMPLETED, True),
        (S.FAILED, True),
        (S.STOPPED, True),
    ],
)
def test_a_process_request_queues_a_run_only_when_idle(status: ProcessingStatus, queues: bool) -> None:
    assert queues_a_run(archive(status)) is queues


def test_a_process_request_for_an_archive_gone_or_without_a_source_queues_nothing() -> None:
    assert not queues_a_run(None)
    assert not queues_a_run(archive(S.NOT_STARTED, source=None))
    assert not queues_a_run(archive(S.NOT_STARTED, source=None, url=None))


@pytest.mark.parametrize(
    "fields",
    [
        {"source": UPLOADED},  # uploaded, its probe not in yet
        {"source": None, "url": URL},  # its url being fetched
        {"source": UPLOADED, "source_problem": {"of": UPLOADED["key"], "error": NOT_A_VIDEO}},  # found unusable since
    ],
    ids=["probing", "fetching", "unusable"],
)
def test_a_process_request_queues_a_run_while_its_source_is_on_its_way(fields: dict) -> None:
    assert queues_a_run(archive(S.NOT_STARTED, **fields))


def test_a_run_asked_for_before_its_source_is_ready_awaits_it_with_its_request() -> None:
    request = ProcessRequested(video_id=7, stream_settings=StreamSettings(play_speed=4))
    job = new_job("run-1", request, archive(S.NOT_STARTED, source=UPLOADED), NOW)
    assert (job["_id"], job["video_id"], job["state"], job["attempt"], job["queued_at"]) == (
        "run-1",
        7,
        "awaiting_source",
        0,
        NOW,
    )
    assert "dispatch" not in job, "its dispatch is made from the file the archive has when it is ready"
    assert ProcessRequested.model_validate(job["request"]) == request


def test_a_released_run_is_queued_with_the_source_the_archive_has_then() -> None:
    request = ProcessRequested(video_id=7, stream_settings=StreamSettings())
    newer = {**SOURCE, "key": "videos/7/source/newer"}
    released = JobRecord.released(run_dispatch("run-1", request, archive(S.QUEUED, source=newer))).as_set()
    assert released["state"] == "queued"
    assert (released["dispatch"]["run_id"], released["dispatch"]["source"]["key"]) == ("run-1", newer["key"])


@pytest.mark.parametrize(
    ("fields", "note"),
    [
        ({"source": UPLOADED}, "Waiting for the source file's probe"),
        ({"source": None, "url": URL}, f"Waiting for {URL} to be fetched"),
        ({"source": {**UPLOADED, "url": URL}, "url": URL}, "Waiting for the source file's probe"),  # fetched
        ({"source": SOURCE}, ""),
    ],
    ids=["probing", "fetching", "fetched", "ready"],
)
def test_a_run_awaiting_its_source_says_what_it_waits_for(fields: dict, note: str) -> None:
    assert waiting_note(archive(S.QUEUED, **fields)) == note
    _, update = status_update(7, S.QUEUED, message=note)
    assert update["$set"]["health_status.msg"] == note
    assert update["$set"]["health_status.code_desc"] == "Video is queued for processing"


def test_a_held_runs_note_goes_only_where_its_status_shows_no_other_note() -> None:
    guard = showing_the_plain_status(7, "run-1")
    assert guard == {"_id": 7, "current_run": "run-1", "health_status.status": "QUEUED", "health_status.msg": ""}


@pytest.mark.parametrize(
    ("fields", "guard"),
    [
        ({"source": SOURCE, "url": None}, {"source.key": SOURCE["key"], "url": None}),
        ({"source": None, "url": URL}, {"source.key": None, "url": URL}),
        ({"source": None}, {"source.key": None, "url": None}),
    ],
    ids=["a-file", "a-url", "nothing"],
)
def test_what_is_decided_on_a_source_is_written_only_while_the_archive_has_it(fields: dict, guard: dict) -> None:
    assert same_source(archive(S.NOT_STARTED, **fields)) == guard


def test_a_queued_run_starts_a_fresh_statistic_that_keeps_the_count_of_starts() -> None:
    settings = StreamSettings.model_validate({"detectors": {"face": {}, "body": None, "car": None}})
    processing, notice = run_queued("run-1", ProcessRequested(video_id=7, stream_settings=settings), archive(S.FAILED))
    changes = {**processing.as_set(), **notice.as_set()}
    assert changes["current_run"] == "run-1"
    assert changes["error"] is None  # the last run's error goes with the new run
    statistic = Statistic.model_validate(changes["health_status.statistic"])
    assert (statistic.job_starts, list(statistic.objects), statistic.frames_processed) == (2, ["face"], 0)


def test_the_job_of_a_queued_run_carries_what_the_detector_needs() -> None:
    request = ProcessRequested(video_id=7, stream_settings=StreamSettings())
    job = new_job("run-1", request, archive(S.NOT_STARTED, router_url="http://hooks.example/"), NOW)
    assert (job["_id"], job["video_id"], job["state"], job["attempt"]) == ("run-1", 7, "queued", 0)
    dispatch = job["dispatch"]
    assert (dispatch["source"]["key"], dispatch["source"]["fps"]) == (SOURCE["key"], 10.0)
    assert (dispatch["camera_group"], dispatch["router_url"]) == (1, "http://hooks.example/")


@pytest.mark.parametrize(
    ("status", "allowed_from"),
    [
        (S.NOT_STARTED, {S.WAITING_FOR_SYNC}),
        (S.QUEUED, {S.WAITING_FOR_SYNC, S.NOT_STARTED, S.COMPLETED, S.FAILED, S.STOPPED}),
        (S.INPROGRESS, {S.QUEUED, S.INPROGRESS}),  # a takeover starts the run again
        (S.COMPLETED, {S.INPROGRESS}),
        (S.FAILED, {S.QUEUED, S.INPROGRESS}),
        (S.STOPPED, {S.QUEUED, S.INPROGRESS}),
    ],
)
def test_a_status_is_entered_only_from_where_the_state_machine_allows(
    status: ProcessingStatus, allowed_from: set[ProcessingStatus]
) -> None:
    guard, _ = status_update(7, status)
    assert guard["_id"] == 7
    assert set(guard["health_status.status"]["$in"]) == {source.value for source in allowed_from}
    assert "current_run" not in guard


@pytest.mark.parametrize(
    ("status", "flags"),
    [
        (S.NOT_STARTED, (False, False, False, False)),
        (S.QUEUED, (True, False, False, True)),
        (S.INPROGRESS, (False, True, False, True)),
        (S.COMPLETED, (False, False, True, False)),
        (S.FAILED, (False, False, False, False)),
        (S.STOPPED, (False, False, False, False)),
    ],
)
def test_a_status_brings_the_contracts_flags_and_display(status: ProcessingStatus, flags: tuple) -> None:
    _, update = status_update(7, status)
    shown = update["$set"]
    assert (shown["queued"], shown["active"], shown["finished"], shown["health_status.enabled"]) == flags
    assert shown["health_status.status"] == status.value
    assert (shown["health_status.code"], shown["health_status.code_desc"]) == STATUS_DISPLAY[status]
    assert shown["health_status.msg"] == ""
    assert "$inc" not in update


def test_a_run_event_moves_its_archive_only_while_it_is_on_that_run() -> None:
    guard, update = status_update(7, S.INPROGRESS, run_id="run-1", count_start=True)
    assert guard["current_run"] == "run-1"
    assert update["$inc"] == {"health_status.statistic.job_starts": 1}


def test_a_lost_events_display_wins_over_the_status_display() -> None:
    note = "The event video.created (e1) could not be handled"
    _, update = status_update(7, S.NOT_STARTED, changes=[lost_event_display(note)])
    shown = update["$set"]
    assert (shown["error"], shown["health_status.msg"], shown["health_status.code"]) == (note, note, "red")
    assert shown["health_status.code_desc"] == "An event could not be handled"
    assert shown["health_status.status"] == "NOT_STARTED"


def test_the_first_start_dates_the_run_and_a_takeover_keeps_the_date() -> None:
    entered = run_entered(NOW)
    guard, update = status_update(7, entered.status, changes=entered.changes, only_from=entered.only_from)
    assert guard["health_status.status"] == {"$in": ["QUEUED"]}
    assert update["$set"]["processing_start_date"] == NOW
    guard, update = status_update(7, RUN_TAKEN_OVER.status, only_from=RUN_TAKEN_OVER.only_from)
    assert guard["health_status.status"] == {"$in": ["INPROGRESS"]}
    assert "processing_start_date" not in update["$set"]
    assert (entered.count_start, RUN_TAKEN_OVER.count_start) == (True, True)


def test_only_from_never_opens_a_step_the_state_machine_forbids() -> None:
    guard, _ = status_update(7, S.COMPLETED, only_from=S.QUEUED)
    assert guard["health_status.status"] == {"$in": []}


def test_a_run_starts_only_from_dispatched_or_an_earlier_attempt() -> None:
    started = JobStarted(run_id="run-1", video_id=7, attempt=2, worker="detector-b")
    assert attempt_start(started) == {
        "_id": "run-1",
        "state": {"$in": ["dispatched", "running"]},
        "attempt": {"$lt": 2},
    }


def test_a_heartbeat_counts_only_from_the_attempt_running_the_run() -> None:
    progress = JobProgress(run_id="run-1", video_id=7, attempt=2, checkpoint=Checkpoint())
    assert attempt_report(progress) == {
        "_id": "run-1",
        "attempt": 2,
        "state": {"$in": ["dispatched", "running", "stopping"]},
    }


def test_a_run_ends_only_once_and_never_by_an_attempt_taken_over() -> None:
    assert attempt_end(ended()) == {
        "_id": "run-1",
        "state": {"$in": ["dispatched", "running", "stopping"]},
        "attempt": {"$lte": 1},
    }


def test_a_takeover_stops_the_attempts_before_it() -> None:
    started = JobStarted(run_id="run-1", video_id=7, attempt=3, worker="detector-b")
    stop = takeover_stop({"_id": "run-1", "attempt": 2}, started)
    assert stop is not None
    assert (stop.run_id, stop.attempt, stop.stops(2), stop.stops(3)) == ("run-1", 3, True, False)


@pytest.mark.parametrize("job_before", [{"_id": "run-1", "attempt": 3}, {"_id": "run-1"}], ids=["same", "first"])
def test_the_same_attempt_reported_again_stops_nothing(job_before: dict) -> None:
    started = JobStarted(run_id="run-1", video_id=7, attempt=3, worker="detector-b")
    assert takeover_stop(job_before, started) is None


def ended(error: str | None = None) -> JobEnded:
    return JobEnded(run_id="run-1", video_id=7, attempt=1, statistic=Statistic(), error=error)


def test_a_finished_run_completes_its_archive_through_its_start_if_that_was_not_handled_yet() -> None:
    entered, completed = after_run(JobState.FINISHED, None, NOW)
    assert entered == run_entered(NOW)
    assert completed == StatusChange(S.COMPLETED)


def test_a_run_finished_with_an_error_completes_its_archive_and_shows_the_error() -> None:
    """A run whose attribute networks did not all load posts all the same, and says so."""
    error = "age and gender not estimated: face age model /models/age-v1.onnx: no such file"
    _, completed = after_run(JobState.FINISHED, error, NOW)
    _, update = status_update(7, completed.status, changes=completed.changes, message=completed.message)
    shown = update["$set"]
    assert shown["health_status.status"] == "COMPLETED"
    assert shown["error"] == error


def test_a_run_finished_cleanly_leaves_its_archive_s_error_alone() -> None:
    """None is written when the run is queued (`run_queued`); a clean end writes no error."""
    _, completed = after_run(JobState.FINISHED, None, NOW)
    _, update = status_update(7, completed.status, changes=completed.changes, message=completed.message)
    assert "error" not in update["$set"]


def test_a_failed_run_fails_its_archive_with_the_runs_error_shown() -> None:
    (change,) = after_run(JobState.FAILED, "rot: the region is outside the frame", NOW)
    _, update = status_update(7, change.status, changes=change.changes, message=change.message)
    shown = update["$set"]
    assert shown["health_status.status"] == "FAILED"
    assert shown["error"] == shown["health_status.msg"] == "rot: the region is outside the frame"


def test_a_stopped_run_leaves_no_archive_queued_or_running() -> None:
    """The stop moved its archive to STOPPED already; one still busy on the run is stopped now."""
    (change,) = after_run(JobState.STOPPED, None, NOW)
    assert (change.status, change.count_start) == (S.STOPPED, False)


def letter(subject: str, payload: dict) -> DeadLetter:
    body = json.dumps({"event_id": "e1", "type": subject, "payload": payload}).encode()
    return DeadLetter(
        subject=subject,
        consumer="detector",
        stream="VIDAR_JOBS",
        sequence=1,
        deliveries=5,
        error="the detector died",
        event_id="e1",
        body=body,
        original_headers={},
    )


@pytest.mark.parametrize("subject", [subjects.JOB_DISPATCH, *subjects.JOB_REPORTS])
def test_a_run_whose_own_event_is_lost_fails(subject: str) -> None:
    # The dispatch given up after its last delivery is how a video that keeps killing its detector ends.
    assert run_to_fail(letter(subject, {"run_id": "run-1", "video_id": 7})) == "run-1"


@pytest.mark.parametrize("subject", [subjects.VIDEO_CREATED, subjects.VIDEO_PROCESS_REQUESTED])
def test_a_lost_archive_event_fails_no_run(subject: str) -> None:
    assert run_to_fail(letter(subject, {"run_id": "run-1", "video_id": 7})) is None


def test_a_lost_run_event_without_a_run_id_fails_no_run() -> None:
    assert run_to_fail(letter(subjects.JOB_DISPATCH, {"video_id": 7})) is None


def test_a_silent_detector_is_explained_on_its_archive() -> None:
    note = "The detector stopped answering (no heartbeat for 30 s); the job resumes on another detector."
    assert stall_note(30).as_set() == {"health_status.msg": note}


@pytest.mark.parametrize(("in_flight", "free"), [(0, 2), (1, 1), (2, 0), (5, 0)])
def test_dispatch_fills_the_free_slots_only(in_flight: int, free: int) -> None:
    assert free_slots(2, in_flight) == free


def test_a_runs_job_record_is_written_under_its_stored_names() -> None:
    started = JobStarted(run_id="run-1", video_id=7, attempt=2, worker="detector-b")
    assert JobRecord.started(started, NOW).as_set() == {
        "state": "running",
        "attempt": 2,
        "worker": "detector-b",
        "heartbeat_at": NOW,
        "stalled": False,
    }
    failed = {"state": "failed", "ended_at": NOW, "error": "boom"}
    assert JobRecord.ended(JobState.FAILED, "boom", NOW).as_set() == failed
    assert JobRecord.silent().as_set() == {"stalled": True}
