"""What the scheduler decides, on plain values: whether a request queues a run, the job it
queues (or holds until the archive's source is ready), what a start, an end or a silent detector
changes, and the archive's status update with its guard. `Scheduler` reads and writes; these say
what to write.

A detector's reports reach the scheduler in any order, more than once, or late (each subject has
its own consumer, and a redelivery comes after what followed it). So a run only moves forward: by
attempt, then from dispatched to running to over, each step guarded on where the run is
(`attempt_start`, `attempt_report`, `attempt_end`); a report from behind changes nothing, and an
end reached before its start still takes the archive through the start (`after_run`)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vidar.documents import (
    CURRENT_RUN,
    JOB_STARTS,
    SOURCE_KEY,
    STATUS,
    JobRecord,
    Notice,
    Processing,
    SourceState,
    StoredFields,
    source_state,
    updates,
)
from vidar.health import BUSY, ProcessingStatus, sources_of
from vidar.models.jobs import (
    IN_FLIGHT,
    JobDispatch,
    JobEnded,
    JobProgress,
    JobStarted,
    JobState,
    JobStop,
    ObjectCounters,
    ProcessRequested,
    SourceFile,
    Statistic,
)
from vidar.models.stream_settings import DETECTOR_TYPES, StreamSettings
from vidar.read_models import ArchiveStatus

S = ProcessingStatus
IN_FLIGHT_VALUES = [state.value for state in IN_FLIGHT]


@dataclass(frozen=True)
class StatusChange:
    """Where an archive goes, what else changes with it, and the message it shows; `count_start`
    counts a start of its run, and `only_from` narrows where it may come from to one status."""

    status: ProcessingStatus
    changes: list[StoredFields] = field(default_factory=list)
    message: str | None = None
    count_start: bool = False
    only_from: ProcessingStatus | None = None


def is_busy(video: dict) -> bool:
    """Queued or running: a request to process changes nothing, a stop has something to stop."""
    return ArchiveStatus.model_validate(video).status in BUSY


def queues_a_run(video: dict | None) -> bool:
    """Whether `video.process.requested` queues a run: the archive exists, is idle and has a source
    or one coming. A source found unusable since the gateway checked is no exception: the run is
    held, and fails with the source's problem at once (`Scheduler.settle_held_run`)."""
    return video is not None and not is_busy(video) and source_state(video) is not SourceState.MISSING


def fresh_statistic(settings: StreamSettings, job_starts: int) -> Statistic:
    """A new run's statistic: a counter for each enabled kind; the runs started so far kept."""
    enabled = [kind for kind in DETECTOR_TYPES if getattr(settings.detectors, kind) is not None]
    return Statistic(objects={kind: ObjectCounters() for kind in enabled}, job_starts=job_starts)


def run_dispatch(run_id: str, request: ProcessRequested, video: dict) -> JobDispatch:
    """What a detector gets: the archive's source, camera group and router_url as they are now."""
    return JobDispatch(
        run_id=run_id,
        video_id=request.video_id,
        camera_group=video["camera_group"],
        source=SourceFile.model_validate(video["source"]),
        stream_settings=request.stream_settings,
        router_url=video.get("router_url"),
    )


def new_job(run_id: str, request: ProcessRequested, video: dict, now: datetime) -> dict[str, Any]:
    """The `jobs` document of a new run: queued with its dispatch when the archive's source is
    ready, else awaiting it with the request, its dispatch made when it is released."""
    if source_state(video) is SourceState.READY:
        return JobRecord.queued(run_dispatch(run_id, request, video), now)
    return JobRecord.awaiting_source(run_id, request, now)


def waiting_note(video: dict) -> str:
    """What a run awaiting the archive's source shows meanwhile; '' once there is nothing to wait for."""
    state = source_state(video)
    if state is SourceState.PROBING:
        return "Waiting for the source file's probe"
    if state is SourceState.FETCHING:
        return f"Waiting for {video['url']} to be fetched"
    return ""


def same_source(video: dict) -> dict[str, Any]:
    """The guard of a write decided on the archive's source as read in `video`: the same file (or
    none) and the same url. Uploads wait while a run is queued, but a url fetch does not."""
    return {SOURCE_KEY: (video.get("source") or {}).get("key"), "url": video.get("url")}


def showing_the_plain_status(video_id: int, run_id: str) -> dict[str, Any]:
    """A held run's archive whose msg is its status's own, empty one (a new file's event shows
    that): its waiting note goes there, and never over another note (a fetch's progress)."""
    return {"_id": video_id, CURRENT_RUN: run_id, STATUS: S.QUEUED.value, "health_status.msg": ""}


def run_queued(run_id: str, request: ProcessRequested, video: dict) -> list[StoredFields]:
    """The archive's changes as it is queued: the new run, a fresh statistic, no error."""
    job_starts = video["health_status"].get("statistic", {}).get("job_starts", 0)
    statistic = fresh_statistic(request.stream_settings, job_starts)
    return [Processing(current_run=run_id, statistic=statistic.model_dump()), Notice(error=None)]


def attempt_start(started: JobStarted) -> dict[str, Any]:
    """The guard of a run's start: dispatched, or running an earlier attempt (this one takes it
    over). The same start again, an earlier attempt's, or any after the run is over, matches none."""
    dispatched_or_running = [JobState.DISPATCHED.value, JobState.RUNNING.value]
    return {"_id": started.run_id, "state": {"$in": dispatched_or_running}, "attempt": {"$lt": started.attempt}}


def attempt_report(progress: JobProgress) -> dict[str, Any]:
    """The guard of a heartbeat: the attempt that runs the run now, before it is over."""
    return {"_id": progress.run_id, "attempt": progress.attempt, "state": {"$in": IN_FLIGHT_VALUES}}


def attempt_end(ended: JobEnded) -> dict[str, Any]:
    """The guard of a run's end: not over yet, and reported by the attempt that runs it or a later
    one (whose start may not be handled yet, or was never sent: the attempt past the last one
    fails the run at once). An attempt a later one took over has no say."""
    return {"_id": ended.run_id, "state": {"$in": IN_FLIGHT_VALUES}, "attempt": {"$lte": ended.attempt}}


def takeover_stop(job_before: dict, started: JobStarted) -> JobStop | None:
    """A later attempt started the run (JetStream redelivered it from a detector thought lost):
    the attempts before it are told to stop, in case that detector still runs."""
    if job_before.get("attempt", started.attempt) < started.attempt:
        return JobStop(run_id=started.run_id, video_id=started.video_id, attempt=started.attempt)
    return None


def run_entered(now: datetime) -> StatusChange:
    """QUEUED -> INPROGRESS: the run's first start, which dates it."""
    return StatusChange(S.INPROGRESS, [Processing(processing_start_date=now)], count_start=True, only_from=S.QUEUED)


# INPROGRESS again: a later attempt took the run over; its first start's date stays.
RUN_TAKEN_OVER = StatusChange(S.INPROGRESS, count_start=True, only_from=S.INPROGRESS)


def after_run(state: JobState, error: str | None, now: datetime) -> list[StatusChange]:
    """The archive's steps, in order, once its run is over; each applies only while the archive is
    on that run and where the state machine allows. A finished run completes it, going through
    its start first if that was not handled yet, and shows the run's error if it has one (what it
    could not do: an attribute network that did not load); a failed run fails it with the run's
    error. A stopped run's archive is STOPPED already (the stop moved it), or is stopped now."""
    if state is JobState.FINISHED:
        return [run_entered(now), StatusChange(S.COMPLETED, [Notice(error=error)] if error else [])]
    if state is JobState.FAILED:
        return [StatusChange(S.FAILED, [Notice(error=error)], error)]
    return [StatusChange(S.STOPPED)]


def stall_note(heartbeat_timeout: float) -> Notice:
    return Notice.note(
        f"The detector stopped answering (no heartbeat for {heartbeat_timeout:.0f} s); "
        "the job resumes on another detector."
    )


def free_slots(max_in_flight: int, in_flight: int) -> int:
    """How many queued runs may be dispatched now."""
    return max(max_in_flight - in_flight, 0)


def status_update(
    video_id: int,
    status: ProcessingStatus,
    *,
    run_id: str | None = None,
    changes: list[StoredFields] | None = None,
    message: str | None = None,
    count_start: bool = False,
    display: bool = True,
    only_from: ProcessingStatus | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The filter and update that move an archive to `status`: only from a status the state
    machine allows (and only from `only_from`, when given, and only while it is on `run_id`, when
    given). The status brings its flags and, unless `display` is off (a problem shown stays), its
    display (`message` shown); `changes` come last, so a lost event's display wins."""
    sources = [source.value for source in sources_of(status) if only_from in (None, source)]
    guard: dict[str, Any] = {"_id": video_id, STATUS: {"$in": sources}}
    if run_id is not None:
        guard[CURRENT_RUN] = run_id
    return guard, entering(status, changes=changes, message=message, count_start=count_start, display=display)


def entering(
    status: ProcessingStatus,
    *,
    changes: list[StoredFields] | None = None,
    message: str | None = None,
    count_start: bool = False,
    display: bool = True,
) -> dict[str, Any]:
    """The update of an archive entering `status` (see `status_update`)."""
    shown_status = [Notice.of_status(status, message or "")] if display else []
    shown = updates(Processing.entering(status), *shown_status, *(changes or []))
    update: dict[str, Any] = {"$set": shown}
    if count_start:
        update["$inc"] = {JOB_STARTS: 1}
    return update
