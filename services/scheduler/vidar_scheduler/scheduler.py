"""The processing lifecycle. Each video's status changes in one transaction with its
`video.processing.<status>` event; jobs live in MongoDB and JetStream, never only in memory,
so a restarted scheduler carries on where the last one stopped."""

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, indexes, subjects
from vidar.batching import Batcher
from vidar.dead_letters import DeadLetter
from vidar.documents import (
    CURRENT_RUN,
    STATUS,
    JobRecord,
    Notice,
    Processing,
    SourceState,
    StoredFields,
    source_state,
    updates,
    why_unusable,
)
from vidar.health import BUSY_VALUES, ProcessingStatus, sources_of
from vidar.logs import ids_of
from vidar.metrics import JOBS
from vidar.models.events import Envelope
from vidar.models.jobs import (
    OVER,
    JobDispatch,
    JobEnded,
    JobProgress,
    JobStarted,
    JobState,
    JobStop,
    ProcessRequested,
    Statistic,
    VideoProcessing,
)
from vidar.mongo import update_returning_before, updated
from vidar.outbox import Outbox, Transaction
from vidar.status_counts import keep_status_moves
from vidar_scheduler.lifecycle import (
    IN_FLIGHT_VALUES,
    RUN_TAKEN_OVER,
    StatusChange,
    after_run,
    attempt_end,
    attempt_report,
    attempt_start,
    entering,
    free_slots,
    is_busy,
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
from vidar_scheduler.lost_events import lost_event_display, lost_event_note, run_to_fail
from vidar_scheduler.periodic import Every
from vidar_scheduler.progress_display import ProgressDisplay
from vidar_scheduler.settings import SchedulerSettings
from vidar_scheduler.source_notices import SourceNotice

S = ProcessingStatus
_OVER = [state.value for state in OVER]
_LIVE = [state.value for state in JobState if state not in OVER]
OVER_RECOUNT_S = 30.0
LIVE_RECOUNT_S = 5.0
ENDED_RUNS_CHECK_S = 30.0
# Checks for silent detectors in each heartbeat timeout: a stall shows a sixth of it late at most.
HEARTBEAT_CHECKS_PER_TIMEOUT = 6
# Archives synced in one transaction at most (`vidar.batching`): the `video.created` consumer
# fetches and handles this many events at once.
SYNCS_AT_ONCE = 64
# How long a sync waits for others to share its transaction: a burst of creates announces its
# archives a few at a time, and a transaction for each few cost the database server more than the
# creates themselves.
SYNC_LINGER_S = 0.25
# Where an archive is synced from (the scheduler has not seen it yet).
_UNSYNCED = [status.value for status in sources_of(S.NOT_STARTED)]
# What a `video.processing.<status>` event reads of its archive.
_EVENT_FIELDS = {CURRENT_RUN: 1, "error": 1, "health_status.statistic": 1}
_SYNC_FIELDS = {**_EVENT_FIELDS, STATUS: 1}


class Scheduler:
    def __init__(self, settings: SchedulerSettings, db: AsyncDatabase, outbox: Outbox) -> None:
        self._settings = settings
        self._videos = db[archive.VIDEOS]
        self._jobs = db[archive.JOBS]
        self._outbox = outbox
        self._over_count = Every(OVER_RECOUNT_S)
        self._live_count = Every(LIVE_RECOUNT_S)
        self._ended_runs_check = Every(ENDED_RUNS_CHECK_S)
        self._heartbeat_check = Every(settings.heartbeat_timeout / HEARTBEAT_CHECKS_PER_TIMEOUT)
        self._syncs = Batcher(self._sync_all, max_batch=SYNCS_AT_ONCE, linger_s=SYNC_LINGER_S)
        self._progress_display = ProgressDisplay(settings.progress_display_interval)

    async def ensure_indexes(self) -> None:
        """The jobs' indexes, and the archives' (`settle_ended_runs` reads them by status)."""
        await indexes.ensure(self._jobs.database, archive.JOBS, archive.VIDEOS)

    async def sync(self, video_id: int) -> None:
        """A new archive is known to the scheduler: WAITING_FOR_SYNC -> NOT_STARTED, written with the
        other archives synced meanwhile (`_sync_all`)."""
        await self._syncs.submit(video_id)

    async def _sync_all(self, video_ids: list[int]) -> list[None]:
        """Archives not synced yet among `video_ids` go NOT_STARTED, each with its
        `video.processing.not_started` event, in one transaction of a few commands for them all (one
        transaction of five per archive could not keep up with a burst of creates). A problem an
        archive shows already (its url could not be fetched, its file is no video) stays shown."""

        async def write(transaction: Transaction) -> None:
            session = transaction.session
            # By id alone, the status checked here: with a clause on the status besides, the
            # embedded server scans the whole collection. What the events say is what the sync
            # leaves as it is: read once, before; a write meanwhile conflicts and runs this again.
            by_id = {"_id": {"$in": sorted(set(video_ids))}}
            read = await self._videos.find(by_id, projection=_SYNC_FIELDS, session=session).to_list()
            found = [doc for doc in read if doc["health_status"]["status"] in _UNSYNCED]
            shown = [doc["_id"] for doc in found if doc.get("error") is None]
            kept = [doc["_id"] for doc in found if doc.get("error") is not None]
            for ids, display in ((shown, True), (kept, False)):
                if ids:
                    synced = entering(S.NOT_STARTED, display=display)
                    await self._videos.update_many({"_id": {"$in": ids}}, synced, session=session)
            moves = [(doc["health_status"]["status"], S.NOT_STARTED.value) for doc in found]
            await keep_status_moves(self._videos.database, moves, session)
            for doc in found:
                await self._stage_move(transaction, doc, S.NOT_STARTED)

        await self._outbox.commit(write)
        return [None] * len(video_ids)

    async def note_source(self, notice: SourceNotice) -> None:
        """Show what an event says about the archive's source file, while it is still current. A
        good file shows the display of the archive's status: read again if it changed meanwhile."""
        while doc := await self._videos.find_one(notice.guard, projection={STATUS: 1}):
            status = ProcessingStatus(doc["health_status"]["status"])
            shown = await self._videos.update_one(
                {**notice.guard, STATUS: status.value}, {"$set": notice.update(status)}
            )
            if shown.matched_count == 1:
                return

    async def request_processing(self, request: ProcessRequested) -> None:
        """Queue a new run, unless the video is already queued or running or has no source coming.
        A run whose source is on its way awaits it; it may be settled already."""
        if await self._queue_run(request):
            await self.settle_held_run(request.video_id)
            await self.dispatch()

    async def _queue_run(self, request: ProcessRequested) -> bool:
        """The video goes QUEUED with its new run, decided on its source as read: read again if the
        source changed meanwhile, so a run never starts on a file the archive no longer has."""
        while doc := await self._videos.find_one({"_id": request.video_id}):
            if not queues_a_run(doc):
                return False
            run_id = uuid4().hex
            job = new_job(run_id, request, doc, datetime.now(UTC))

            async def queue(transaction: Transaction, job: dict = job) -> None:
                await self._jobs.insert_one(job, session=transaction.session)

            changes, note = run_queued(run_id, request, doc), waiting_note(doc)
            if await self._transition(
                request.video_id, S.QUEUED, changes=changes, message=note, where=same_source(doc), also=queue
            ):
                return True
        return False

    async def settle_held_run(self, video_id: int) -> None:
        """The video's run awaiting its source, if it has one, goes on now that the source may have
        changed (see `_settle`)."""
        job = await self._jobs.find_one({"video_id": video_id, "state": JobState.AWAITING_SOURCE.value})
        if job is not None:
            await self._settle(job)

    async def settle_held_runs(self) -> None:
        """Every run awaiting its source, in case an event that would have settled it was handled
        while the run was not stored yet, or before a restart."""
        for job in await self._jobs.find({"state": JobState.AWAITING_SOURCE.value}).to_list():
            await self._settle(job)

    async def _settle(self, job: dict) -> None:
        """A run awaiting its archive's source is queued with that source once it is ready, fails
        with the source's problem once it is unusable, and meanwhile shows what it waits for. It is
        decided from the stored archive, never from an event, and each step is guarded on the
        run's state and the archive's source, so a redelivered or overtaken event, or two replicas
        at once, release a run once and only for the file the archive has."""
        run_id, video_id = job["_id"], job["video_id"]
        doc = await self._videos.find_one({"_id": video_id})
        if doc is None or doc.get(CURRENT_RUN) != run_id:
            # Deleted meanwhile: `video.deleted` stops the run too, unless that event is lost.
            await self._end_held_run(run_id, JobRecord.in_state(JobState.STOPPED))
        elif source_state(doc) is SourceState.READY:
            if await self._release(job, doc):
                await self.dispatch()
        elif failure := why_unusable(doc):
            await self._fail_held_run(video_id, run_id, failure, doc)
        else:
            note = Notice.note(waiting_note(doc)).as_set()
            await self._videos.update_one(showing_the_plain_status(video_id, run_id), {"$set": note})

    async def _fail_held_run(self, video_id: int, run_id: str, failure: str, doc: dict) -> None:
        """The run fails with why its source is unusable, read in `doc`, while the archive still has that source."""

        async def end_job(transaction: Transaction) -> None:
            ended = JobRecord.ended(JobState.FAILED, failure, datetime.now(UTC))
            await self._end_held_run(run_id, ended, transaction)

        changes: list[StoredFields] = [Notice(error=failure)]
        await self._transition(
            video_id, S.FAILED, run_id=run_id, changes=changes, message=failure, where=same_source(doc), also=end_job
        )

    async def _release(self, job: dict, doc: dict) -> bool:
        """Queue the held run with the archive's source as read in `doc`, while the archive still has
        it; whether it was released."""
        run_id = job["_id"]
        dispatch = run_dispatch(run_id, ProcessRequested.model_validate(job["request"]), doc)

        async def release(transaction: Transaction) -> bool:
            on_that_source = {"_id": doc["_id"], CURRENT_RUN: run_id, STATUS: S.QUEUED.value, **same_source(doc)}
            shown = await self._videos.update_one(
                on_that_source, {"$set": Notice.of_status(S.QUEUED).as_set()}, session=transaction.session
            )
            if shown.matched_count == 0:
                return False
            released = await self._jobs.update_one(
                {"_id": run_id, "state": JobState.AWAITING_SOURCE.value},
                {"$set": JobRecord.released(dispatch).as_set()},
                session=transaction.session,
            )
            return released.modified_count == 1

        return await self._outbox.commit(release)

    async def _end_held_run(self, run_id: str, ending: JobRecord, transaction: Transaction | None = None) -> None:
        await self._jobs.update_one(
            {"_id": run_id, "state": JobState.AWAITING_SOURCE.value},
            {"$set": ending.as_set()},
            session=transaction.session if transaction else None,
        )

    async def request_stop(self, video_id: int) -> None:
        """A queued run is dropped; a running one is told to stop."""
        doc = await self._videos.find_one({"_id": video_id}, projection={CURRENT_RUN: 1, "health_status": 1})
        if doc is None or not is_busy(doc):
            return

        async def stop_run(transaction: Transaction) -> None:
            await self._stop_runs({"_id": doc["current_run"]}, transaction)

        await self._transition(video_id, S.STOPPED, also=stop_run)

    async def forget(self, video_id: int) -> None:
        """The archive is deleted: its runs end too."""
        await self._outbox.commit(lambda transaction: self._stop_runs({"video_id": video_id}, transaction))

    async def _stop_runs(self, which: dict, transaction: Transaction) -> None:
        """Queued runs (and those awaiting their source) end now; dispatched and running ones are told
        to stop by a `job.stop` event each."""
        session = transaction.session
        stopped = JobRecord.in_state(JobState.STOPPED).as_set()
        not_dispatched = {"$in": [JobState.AWAITING_SOURCE.value, JobState.QUEUED.value]}
        await self._jobs.update_many({**which, "state": not_dispatched}, {"$set": stopped}, session=session)
        running = {**which, "state": {"$in": [JobState.DISPATCHED.value, JobState.RUNNING.value]}}
        jobs = await self._jobs.find(running, projection={"video_id": 1}, session=session).to_list()
        await self._jobs.update_many(running, {"$set": JobRecord.in_state(JobState.STOPPING).as_set()}, session=session)
        for job in jobs:
            await self._stage_stop(JobStop(run_id=job["_id"], video_id=job["video_id"]), transaction)

    @staticmethod
    async def _stage_stop(stop: JobStop, transaction: Transaction) -> None:
        await transaction.stage(Envelope(type=subjects.job_stop(stop.run_id), payload=stop))

    async def job_started(self, started: JobStarted) -> None:
        """A detector took the run on (`attempt_start`); an earlier attempt, if one still runs on a
        detector thought lost, is told to stop. The run and its archive move in one transaction, so
        a report of the same run handled alongside comes wholly before or after it."""

        async def start(transaction: Transaction) -> None:
            job = await update_returning_before(
                self._jobs,
                attempt_start(started),
                {"$set": JobRecord.started(started, datetime.now(UTC)).as_set()},
                session=transaction.session,
            )
            if job is None:
                return
            if stop := takeover_stop(job, started):
                await self._stage_stop(stop, transaction)
            if not await self._move(transaction, started.video_id, run_entered(datetime.now(UTC)), run_id=job["_id"]):
                await self._move(transaction, started.video_id, RUN_TAKEN_OVER, run_id=job["_id"])

        await self._outbox.commit(start)

    async def job_progress(self, progress: JobProgress) -> None:
        """The heartbeat of the attempt running the run (`attempt_report`): keep the checkpoint and
        show the statistic so far, at most every `progress_display_interval` (`ProgressDisplay`)."""
        beat = await self._jobs.update_one(
            attempt_report(progress),
            {"$set": JobRecord.heartbeat(progress.checkpoint, datetime.now(UTC)).as_set()},
        )
        statistic = progress.checkpoint.statistic
        if beat.matched_count == 0 or not self._progress_display.due(progress.run_id, statistic):
            return
        # Only while it runs: a heartbeat handled after the run's end keeps the end's figures.
        if await self._write_statistic(progress.video_id, progress.run_id, statistic, while_in=S.INPROGRESS):
            self._progress_display.shown(progress.run_id, statistic)

    async def job_ended(self, ended: JobEnded, state: JobState) -> None:
        """The run is over (`attempt_end`), with its final figures, and its archive moves on
        (`after_run`), in one transaction."""

        async def end(transaction: Transaction) -> bool:
            now = datetime.now(UTC)
            over = updates(JobRecord.ended(state, ended.error, now), JobRecord(attempt=ended.attempt))
            job = await update_returning_before(
                self._jobs, attempt_end(ended), {"$set": over}, session=transaction.session
            )
            if job is None:
                return False
            await self._write_statistic(ended.video_id, ended.run_id, ended.statistic, session=transaction.session)
            await self._follow_run(transaction, ended.video_id, ended.run_id, after_run(state, ended.error, now))
            return True

        self._progress_display.forget(ended.run_id)
        if await self._outbox.commit(end):
            self._over_count.now_due()
            await self.dispatch()

    async def settle_ended_runs(self) -> None:
        """Every ENDED_RUNS_CHECK_S, an archive still queued or running on a run that is over moves
        on as the run's end moves it: one left so before run ends moved their archive in the same
        transaction, or by any way of ending a run that left its archive behind."""
        if not self._ended_runs_check.due():
            return
        busy = await self._videos.find({STATUS: {"$in": BUSY_VALUES}}, projection={CURRENT_RUN: 1}).to_list()
        runs = [doc[CURRENT_RUN] for doc in busy if doc.get(CURRENT_RUN)]
        if not runs:
            return
        over = {"_id": {"$in": runs}, "state": {"$in": _OVER}}
        for job in await self._jobs.find(over, projection={"video_id": 1, "state": 1, "error": 1}).to_list():
            steps = after_run(JobState(job["state"]), job.get("error"), datetime.now(UTC))

            async def follow(transaction: Transaction, job: dict = job, steps: list[StatusChange] = steps) -> None:
                await self._follow_run(transaction, job["video_id"], job["_id"], steps)

            await self._outbox.commit(follow)

    async def _follow_run(
        self, transaction: Transaction, video_id: int, run_id: str, steps: list[StatusChange]
    ) -> None:
        """Take the archive through `steps` in order, each only while it is on `run_id` and where the
        state machine allows."""
        for step in steps:
            await self._move(transaction, video_id, step, run_id=run_id)

    async def event_lost(self, letter: DeadLetter) -> None:
        """An event a consumer gave up on shows on its archive, which is never left where nothing
        would move it: a run whose own event is lost fails, an archive waiting for its sync gets
        it (processing can then be asked for, and shows its own outcome)."""
        video_id, _ = ids_of(letter.body)
        if video_id is None:
            return  # no archive to show it on: the metric, the log and the dead letter have it
        note = lost_event_note(letter)
        run_id = run_to_fail(letter)
        if run_id and await self._fail_run(video_id, run_id, note):
            return
        if await self._transition(video_id, S.NOT_STARTED, changes=[lost_event_display(note)]):
            return
        await self._videos.update_one({"_id": video_id}, {"$set": lost_event_display(note).as_set()})

    async def _fail_run(self, video_id: int, run_id: str, note: str) -> bool:
        async def end_job(transaction: Transaction) -> None:
            """The run fails; a detector still at it stops."""
            job = await update_returning_before(
                self._jobs,
                {"_id": run_id, "state": {"$nin": _OVER}},
                {"$set": JobRecord.ended(JobState.FAILED, note, datetime.now(UTC)).as_set()},
                session=transaction.session,
            )
            if job is not None:
                await self._stage_stop(JobStop(run_id=run_id, video_id=video_id), transaction)

        failed = await self._transition(
            video_id, S.FAILED, run_id=run_id, changes=[Notice(error=note)], message=note, also=end_job
        )
        if failed:
            await self.dispatch()
        return failed

    async def dispatch(self) -> None:
        """Hand queued runs to the detectors, oldest first, up to `max_in_flight` at once. The runs in
        flight are counted only when some wait: a count reads every one, on each pass."""
        oldest = self._jobs.find({"state": JobState.QUEUED.value}).sort("queued_at", ASCENDING)
        queued = await oldest.limit(self._settings.max_in_flight).to_list()
        if not queued:
            return
        in_flight = await self._jobs.count_documents({"state": {"$in": IN_FLIGHT_VALUES}})
        for job in queued[: free_slots(self._settings.max_in_flight, in_flight)]:

            async def claim(transaction: Transaction, job: dict = job) -> None:
                claimed = await self._jobs.update_one(
                    {"_id": job["_id"], "state": JobState.QUEUED.value},
                    {"$set": JobRecord.dispatched(datetime.now(UTC)).as_set()},
                    session=transaction.session,
                )
                if claimed.modified_count == 1:
                    dispatch = JobDispatch.model_validate(job["dispatch"])
                    event_id = f"dispatch-{job['_id']}"
                    await transaction.stage(Envelope(event_id=event_id, type=subjects.JOB_DISPATCH, payload=dispatch))

            await self._outbox.commit(claim)

    async def count_jobs(self) -> None:
        """The `vidar_jobs` gauge: runs by state (queued is the queue's depth). The runs not over are
        read in one find on the jobs' state index every LIVE_RECOUNT_S: a count of each state was
        an aggregate, five every 5 s, a sixth of the database server's time with 4 runs processing
        (SecantusDB reads every run it counts). The states runs end in grow with every run, so they
        are counted only after a run ended, or every OVER_RECOUNT_S."""
        if self._live_count.due():
            live = await self._jobs.find({"state": {"$in": _LIVE}}, projection={"state": 1}).to_list()
            by_state = Counter(job["state"] for job in live)
            for state in _LIVE:
                JOBS.labels(state).set(by_state[state])
        if self._over_count.due():
            for state in OVER:
                JOBS.labels(state.value).set(await self._jobs.count_documents({"state": state.value}))

    async def watch_heartbeats(self) -> None:
        """A running job whose detector went silent is marked stalled (JetStream redelivers it
        to a live detector after the same timeout); a stopping one is simply over. Checked
        HEARTBEAT_CHECKS_PER_TIMEOUT times a timeout, not every tick."""
        if not self._heartbeat_check.due():
            return
        silent_since = datetime.now(UTC) - timedelta(seconds=self._settings.heartbeat_timeout)
        silent = {"heartbeat_at": {"$lt": silent_since}, "stalled": {"$ne": True}}
        await self._jobs.update_many(
            {"state": JobState.STOPPING.value, **silent}, {"$set": JobRecord.in_state(JobState.STOPPED).as_set()}
        )
        async for job in self._jobs.find({"state": JobState.RUNNING.value, **silent}):
            await self._jobs.update_one(
                {"_id": job["_id"], "state": JobState.RUNNING.value}, {"$set": JobRecord.silent().as_set()}
            )
            note = stall_note(self._settings.heartbeat_timeout)
            await self._videos.update_one({"_id": job["video_id"], CURRENT_RUN: job["_id"]}, {"$set": note.as_set()})

    async def _write_statistic(
        self,
        video_id: int,
        run_id: str,
        statistic: Statistic,
        *,
        while_in: ProcessingStatus | None = None,
        session: AsyncClientSession | None = None,
    ) -> bool:
        """The detector's figures, while the archive is on the run (and in `while_in`, when given);
        job_starts stays the scheduler's count. Whether the archive was there."""
        on_the_run: dict[str, Any] = {"_id": video_id, CURRENT_RUN: run_id}
        if while_in is not None:
            on_the_run[STATUS] = while_in.value
        written = await self._videos.update_one(on_the_run, {"$set": Processing.figures(statistic)}, session=session)
        return written.matched_count == 1

    async def _transition(
        self,
        video_id: int,
        status: ProcessingStatus,
        *,
        run_id: str | None = None,
        changes: list[StoredFields] | None = None,
        message: str | None = None,
        count_start: bool = False,
        where: dict[str, Any] | None = None,
        display: bool = True,
        also: Callable[[Transaction], Awaitable[None]] | None = None,
    ) -> bool:
        """Move the video to `status` (see `_move`) with `changes`, and `also` (which may stage more
        events), in one transaction; whether it moved."""
        change = StatusChange(status, changes or [], message, count_start)

        async def write(transaction: Transaction) -> bool:
            if not await self._move(transaction, video_id, change, run_id=run_id, where=where, display=display):
                return False
            if also is not None:
                await also(transaction)
            return True

        return await self._outbox.commit(write)

    async def _move(
        self,
        transaction: Transaction,
        video_id: int,
        change: StatusChange,
        *,
        run_id: str | None = None,
        where: dict[str, Any] | None = None,
        display: bool = True,
    ) -> bool:
        """In `transaction`, move the video as `change` says if the state machine allows it from where
        it is (and it is on run `run_id`, and matches `where`), with its `video.processing.<status>`
        event and the kept count of each status (`vidar.status_counts`); whether it moved."""
        guard, update = status_update(
            video_id,
            change.status,
            run_id=run_id,
            changes=change.changes,
            message=change.message,
            count_start=change.count_start,
            display=display,
            only_from=change.only_from,
        )
        guard.update(where or {})
        session = transaction.session
        # The status it leaves, read in the transaction that moves it: a move meanwhile conflicts.
        before = await self._videos.find_one(guard, projection={STATUS: 1}, session=session)
        doc = None if before is None else await updated(self._videos, guard, update, session=session)
        if before is None or doc is None:
            return False
        await keep_status_moves(self._videos.database, [(before["health_status"]["status"], change.status)], session)
        await self._stage_move(transaction, doc, change.status)
        return True

    @staticmethod
    async def _stage_move(transaction: Transaction, doc: dict, status: ProcessingStatus) -> None:
        """The `video.processing.<status>` event of an archive just moved there (`doc` as it is now)."""
        moved = VideoProcessing(
            video_id=doc["_id"],
            run_id=doc.get(CURRENT_RUN),
            status=status,
            error=doc.get("error"),
            statistic=Statistic.model_validate((doc.get("health_status") or {}).get("statistic") or {}),
        )
        await transaction.stage(Envelope(type=subjects.video_processing(status), payload=moved))
