"""The processing lifecycle. Each video's status changes in one transaction with its
`video.processing.<status>` event; jobs live in MongoDB and JetStream, never only in memory,
so a restarted scheduler carries on where the last one stopped."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, subjects
from vidar.dead_letters import DeadLetter
from vidar.health import BUSY_VALUES, ProcessingStatus, display, sources_of
from vidar.logs import ids_of
from vidar.metrics import JOBS
from vidar.models.events import Envelope
from vidar.models.jobs import (
    IN_FLIGHT,
    OVER,
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
    VideoProcessing,
)
from vidar.models.stream_settings import DETECTOR_TYPES, StreamSettings
from vidar.outbox import Outbox, Transaction
from vidar_scheduler.lost_events import RUN_LIFECYCLE, lost_event_display, lost_event_note, run_of
from vidar_scheduler.settings import SchedulerSettings

S = ProcessingStatus
_IN_FLIGHT = [state.value for state in IN_FLIGHT]
_OVER = [state.value for state in OVER]
# The flags of the contract that go with each status.
_FLAGS: dict[ProcessingStatus, dict[str, bool]] = {
    S.NOT_STARTED: {"queued": False, "active": False, "finished": False, "health_status.enabled": False},
    S.QUEUED: {"queued": True, "active": False, "finished": False, "health_status.enabled": True},
    S.INPROGRESS: {"queued": False, "active": True, "finished": False, "health_status.enabled": True},
    S.COMPLETED: {"queued": False, "active": False, "finished": True, "health_status.enabled": False},
    S.FAILED: {"queued": False, "active": False, "finished": False, "health_status.enabled": False},
    S.STOPPED: {"queued": False, "active": False, "finished": False, "health_status.enabled": False},
}


def fresh_statistic(settings: StreamSettings, job_starts: int) -> Statistic:
    enabled = [kind for kind in DETECTOR_TYPES if getattr(settings.detectors, kind) is not None]
    return Statistic(objects={kind: ObjectCounters() for kind in enabled}, job_starts=job_starts)


class Scheduler:
    def __init__(self, settings: SchedulerSettings, db: AsyncDatabase, outbox: Outbox) -> None:
        self._settings = settings
        self._videos = db[archive.VIDEOS]
        self._jobs = db[archive.JOBS]
        self._outbox = outbox

    async def ensure_indexes(self) -> None:
        await self._jobs.create_index([("state", ASCENDING), ("queued_at", ASCENDING)])
        await self._jobs.create_index([("video_id", ASCENDING)])

    async def sync(self, video_id: int) -> None:
        """A new archive is known to the scheduler: WAITING_FOR_SYNC -> NOT_STARTED."""
        await self._transition(video_id, S.NOT_STARTED)

    async def request_processing(self, request: ProcessRequested) -> None:
        """Queue a new run, unless the video is already queued or running."""
        doc = await self._videos.find_one({"_id": request.video_id})
        if doc is None or doc["health_status"]["status"] in BUSY_VALUES or not doc.get("source"):
            return
        run_id = uuid4().hex
        job_starts = doc["health_status"].get("statistic", {}).get("job_starts", 0)
        job = {
            "_id": run_id,
            "video_id": request.video_id,
            "state": JobState.QUEUED.value,
            "queued_at": datetime.now(UTC),
            "attempt": 0,
            "dispatch": JobDispatch(
                run_id=run_id,
                video_id=request.video_id,
                camera_group=doc["camera_group"],
                source=SourceFile.model_validate(doc["source"]),
                stream_settings=request.stream_settings,
                router_url=doc.get("router_url"),
            ).model_dump(mode="json"),
        }

        async def queue(transaction: Transaction) -> None:
            await self._jobs.insert_one(job, session=transaction.session)

        statistic = fresh_statistic(request.stream_settings, job_starts)
        changes = {"current_run": run_id, "error": None, "health_status.statistic": statistic.model_dump()}
        await self._transition(request.video_id, S.QUEUED, fields=changes, also=queue)
        await self.dispatch()

    async def request_stop(self, video_id: int) -> None:
        """A queued run is dropped; a running one is told to stop."""
        doc = await self._videos.find_one({"_id": video_id}, projection={"current_run": 1, "health_status": 1})
        if doc is None or doc["health_status"]["status"] not in BUSY_VALUES:
            return

        async def stop_run(transaction: Transaction) -> None:
            await self._stop_runs({"_id": doc["current_run"]}, transaction)

        await self._transition(video_id, S.STOPPED, also=stop_run)

    async def forget(self, video_id: int) -> None:
        """The archive is deleted: its runs end too."""
        await self._outbox.commit(lambda transaction: self._stop_runs({"video_id": video_id}, transaction))

    async def _stop_runs(self, which: dict, transaction: Transaction) -> None:
        """Queued runs end now; dispatched and running ones are told to stop by a `job.stop` event each."""
        session = transaction.session
        await self._jobs.update_many(
            {**which, "state": JobState.QUEUED.value}, {"$set": {"state": JobState.STOPPED.value}}, session=session
        )
        running = {**which, "state": {"$in": [JobState.DISPATCHED.value, JobState.RUNNING.value]}}
        jobs = await self._jobs.find(running, projection={"video_id": 1}, session=session).to_list()
        await self._jobs.update_many(running, {"$set": {"state": JobState.STOPPING.value}}, session=session)
        for job in jobs:
            await self._stage_stop(JobStop(run_id=job["_id"], video_id=job["video_id"]), transaction)

    @staticmethod
    async def _stage_stop(stop: JobStop, transaction: Transaction) -> None:
        await transaction.stage(Envelope(type=subjects.job_stop(stop.run_id), payload=stop))

    async def job_started(self, started: JobStarted) -> None:
        """A detector took the run on; an earlier attempt, if one still runs on a detector thought
        lost, is told to stop (in the same transaction)."""

        async def start(transaction: Transaction) -> dict | None:
            job = await self._jobs.find_one_and_update(
                {"_id": started.run_id, "state": {"$in": [JobState.DISPATCHED.value, JobState.RUNNING.value]}},
                {
                    "$set": {
                        "state": JobState.RUNNING.value,
                        "attempt": started.attempt,
                        "worker": started.worker,
                        "heartbeat_at": datetime.now(UTC),
                        "stalled": False,
                    }
                },
                session=transaction.session,
            )
            if job is not None and job.get("attempt", started.attempt) < started.attempt:
                stop = JobStop(run_id=started.run_id, video_id=started.video_id, attempt=started.attempt)
                await self._stage_stop(stop, transaction)
            return job

        job = await self._outbox.commit(start)
        if job is None:
            return
        first_start = {"processing_start_date": datetime.now(UTC)} if started.attempt == 1 else {}
        await self._transition(
            started.video_id,
            S.INPROGRESS,
            run_id=started.run_id,
            fields=first_start,
            increment={"health_status.statistic.job_starts": 1},
        )

    async def job_progress(self, progress: JobProgress) -> None:
        """The heartbeat: keep the checkpoint and show the statistic so far."""
        job = await self._jobs.find_one_and_update(
            {"_id": progress.run_id, "attempt": progress.attempt, "state": {"$in": _IN_FLIGHT}},
            {
                "$set": {
                    "checkpoint": progress.checkpoint.model_dump(),
                    "heartbeat_at": datetime.now(UTC),
                    "stalled": False,
                }
            },
        )
        if job is not None:
            await self._write_statistic(progress.video_id, progress.run_id, progress.checkpoint.statistic)

    async def job_ended(self, ended: JobEnded, state: JobState) -> None:
        job = await self._jobs.find_one_and_update(
            {"_id": ended.run_id, "state": {"$in": _IN_FLIGHT}},
            {"$set": {"state": state.value, "ended_at": datetime.now(UTC), "error": ended.error}},
        )
        if job is None:
            return
        await self._write_statistic(ended.video_id, ended.run_id, ended.statistic)
        if state is JobState.FINISHED:
            await self._transition(ended.video_id, S.COMPLETED, run_id=ended.run_id)
        elif state is JobState.FAILED:
            fields = {"error": ended.error}
            await self._transition(ended.video_id, S.FAILED, run_id=ended.run_id, fields=fields, message=ended.error)
        await self.dispatch()

    async def event_lost(self, letter: DeadLetter) -> None:
        """An event a consumer gave up on shows on its archive, which is never left where nothing
        would move it: a run whose own event is lost fails, an archive waiting for its sync gets
        it (processing can then be asked for, and shows its own outcome)."""
        video_id, _ = ids_of(letter.body)
        if video_id is None:
            return  # no archive to show it on: the metric, the log and the dead letter have it
        note = lost_event_note(letter)
        run_id = run_of(letter)
        if letter.subject in RUN_LIFECYCLE and run_id and await self._fail_run(video_id, run_id, note):
            return
        if await self._transition(video_id, S.NOT_STARTED, fields=lost_event_display(note)):
            return
        await self._videos.update_one({"_id": video_id}, {"$set": lost_event_display(note)})

    async def _fail_run(self, video_id: int, run_id: str, note: str) -> bool:
        async def end_job(transaction: Transaction) -> None:
            """The run fails; a detector still at it stops."""
            job = await self._jobs.find_one_and_update(
                {"_id": run_id, "state": {"$nin": _OVER}},
                {"$set": {"state": JobState.FAILED.value, "ended_at": datetime.now(UTC), "error": note}},
                session=transaction.session,
            )
            if job is not None:
                await self._stage_stop(JobStop(run_id=run_id, video_id=video_id), transaction)

        failed = await self._transition(
            video_id, S.FAILED, run_id=run_id, fields={"error": note}, message=note, also=end_job
        )
        if failed:
            await self.dispatch()
        return failed

    async def dispatch(self) -> None:
        """Hand queued runs to the detectors, oldest first, up to `max_in_flight` at once."""
        in_flight = await self._jobs.count_documents({"state": {"$in": _IN_FLIGHT}})
        free = self._settings.max_in_flight - in_flight
        if free <= 0:
            return
        queued = self._jobs.find({"state": JobState.QUEUED.value}).sort("queued_at", ASCENDING).limit(free)
        for job in await queued.to_list():

            async def claim(transaction: Transaction, job: dict = job) -> None:
                claimed = await self._jobs.update_one(
                    {"_id": job["_id"], "state": JobState.QUEUED.value},
                    {"$set": {"state": JobState.DISPATCHED.value, "heartbeat_at": datetime.now(UTC)}},
                    session=transaction.session,
                )
                if claimed.modified_count == 1:
                    event = Envelope(type=subjects.JOB_DISPATCH, payload=JobDispatch.model_validate(job["dispatch"]))
                    event.event_id = f"dispatch-{job['_id']}"
                    await transaction.stage(event)

            await self._outbox.commit(claim)

    async def count_jobs(self) -> None:
        """The `vidar_jobs` gauge: runs by state (queued is the queue's depth)."""
        counted = {
            row["_id"]: row["count"]
            async for row in await self._jobs.aggregate([{"$group": {"_id": "$state", "count": {"$sum": 1}}}])
        }
        for state in JobState:
            JOBS.labels(state.value).set(counted.get(state.value, 0))

    async def watch_heartbeats(self) -> None:
        """A running job whose detector went silent is marked stalled (JetStream redelivers it
        to a live detector after the same timeout); a stopping one is simply over."""
        silent_since = datetime.now(UTC) - timedelta(seconds=self._settings.heartbeat_timeout)
        silent = {"heartbeat_at": {"$lt": silent_since}, "stalled": {"$ne": True}}
        await self._jobs.update_many(
            {**silent, "state": JobState.STOPPING.value}, {"$set": {"state": JobState.STOPPED.value}}
        )
        async for job in self._jobs.find({**silent, "state": JobState.RUNNING.value}):
            await self._jobs.update_one(
                {"_id": job["_id"], "state": JobState.RUNNING.value}, {"$set": {"stalled": True}}
            )
            note = (
                f"The detector stopped answering (no heartbeat for {self._settings.heartbeat_timeout:.0f} s); "
                "the job resumes on another detector."
            )
            await self._videos.update_one(
                {"_id": job["video_id"], "current_run": job["_id"]}, {"$set": {"health_status.msg": note}}
            )

    async def _write_statistic(self, video_id: int, run_id: str, statistic: Statistic) -> None:
        """The detector's figures; job_starts stays the scheduler's count."""
        figures = statistic.model_dump(exclude={"job_starts"})
        await self._videos.update_one(
            {"_id": video_id, "current_run": run_id},
            {"$set": {f"health_status.statistic.{key}": value for key, value in figures.items()}},
        )

    async def _transition(
        self,
        video_id: int,
        status: ProcessingStatus,
        *,
        run_id: str | None = None,
        fields: dict[str, Any] | None = None,
        increment: dict[str, int] | None = None,
        message: str | None = None,
        also: Callable[[Transaction], Awaitable[None]] | None = None,
    ) -> bool:
        """Move the video to `status` if the state machine allows it from where it is (and it is on
        run `run_id`), with `also` (which may stage more events) and the `video.processing.<status>`
        event in one transaction; whether it moved."""
        allowed_from = [source.value for source in sources_of(status)]
        guard: dict[str, Any] = {"_id": video_id, "health_status.status": {"$in": allowed_from}}
        if run_id is not None:
            guard["current_run"] = run_id
        shown = {**display(status), "health_status.status": status.value, **_FLAGS.get(status, {})}
        if message:
            shown["health_status.msg"] = message
        update: dict[str, Any] = {"$set": {**shown, **(fields or {})}}
        if increment:
            update["$inc"] = increment

        async def write(transaction: Transaction) -> bool:
            doc = await self._videos.find_one_and_update(
                guard, update, return_document=ReturnDocument.AFTER, session=transaction.session
            )
            if doc is None:
                return False
            if also is not None:
                await also(transaction)
            changed = VideoProcessing(
                video_id=video_id,
                run_id=doc.get("current_run"),
                status=status,
                error=doc.get("error"),
                statistic=Statistic.model_validate(doc["health_status"].get("statistic") or {}),
            )
            await transaction.stage(Envelope(type=subjects.video_processing(status), payload=changed))
            return True

        return await self._outbox.commit(write)
