"""The async side of a job: its dispatch's message (kept alive, acknowledged or handed back), the
checks before starting, stop requests, and the run's start and end. The worker builds the run's
`RunContext` once; `vidar_detector.assembly` builds the job's collaborators from it, and the job
loop itself runs in a thread (`vidar_detector.job`)."""

import asyncio
import contextlib
import enum
import logging
from collections import deque
from collections.abc import AsyncIterator
from datetime import timedelta

import nats.errors
from faststream.exceptions import SkipMessage
from faststream.nats import NatsBroker
from faststream.nats.message import NatsMessage
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, subjects
from vidar.bus import EVENTS_STREAM, keeping_alive
from vidar.models.clustering import RunPosted
from vidar.models.events import Envelope
from vidar.models.jobs import (
    OVER,
    Checkpoint,
    JobDispatch,
    JobEnded,
    JobStarted,
    JobState,
    JobStop,
    Statistic,
)
from vidar.objectstore import ObjectStore
from vidar.read_models import RunState
from vidar_detector.assembly import Collaborators, assemble
from vidar_detector.detection import DetectionHandler
from vidar_detector.detectors import ModelLoadError
from vidar_detector.job import Job, JobFailure
from vidar_detector.run_context import RunContext, RunInput
from vidar_detector.settings import DetectorSettings
from vidar_detector.tracking_state import InvalidState

log = logging.getLogger(__name__)


class Answer(enum.Enum):
    """What the job's message gets once the job is over or handed back."""

    ACK = enum.auto()  # the run is over (or never to be run)
    HAND_BACK = enum.auto()  # shutting down: another detector resumes it at once
    NONE = enum.auto()  # a later attempt took it over and answers it


# Runs this worker ended that it remembers, to refuse their late redeliveries.
REMEMBERED_ENDS = 1000


class Worker:
    def __init__(self, settings: DetectorSettings, db: AsyncDatabase, broker: NatsBroker, objects: ObjectStore) -> None:
        self._settings = settings
        self._jobs = db[archive.JOBS]
        self._broker = broker
        self._objects = objects
        self._running: set[Job] = set()
        self._ended: deque[str] = deque(maxlen=REMEMBERED_ENDS)
        self._shutting_down = False

    def shut_down(self) -> None:
        """Stop the jobs at hand without ending them: their messages go back to the queue and
        another detector resumes them from their checkpoints."""
        self._shutting_down = True
        for job in self._running:
            job.stop.set()

    async def run(self, dispatch: JobDispatch, attempt: int, message: NatsMessage) -> None:
        """Run (or end) the dispatched job. The message is kept alive from the start: loading the
        models of a first job may outlast the ack wait, and JetStream would hand it to a second
        attempt running alongside."""
        async with keeping_alive(message, timedelta(seconds=self._settings.heartbeat_timeout)):
            answer = await self._run(dispatch, attempt)
            if answer is Answer.ACK:
                await acknowledge(message)
        if answer is Answer.HAND_BACK:
            await message.nack()
        elif answer is Answer.NONE:
            # No acknowledgement: JetStream takes an old delivery's ack as the message's, which
            # would drop the job from the work queue while the later attempt runs it.
            raise SkipMessage

    async def _run(self, dispatch: JobDispatch, attempt: int) -> Answer:
        if dispatch.run_id in self._ended:
            # Redelivered to this worker after it ended it, before its acknowledgement was
            # confirmed (NATS away for longer than the ack wait) and before the scheduler recorded
            # the end: running it again would replace the run.
            return Answer.ACK
        record = await self._jobs.find_one({"_id": dispatch.run_id}, projection={"state": 1, "checkpoint": 1})
        run_state = RunState.model_validate(record) if record else None
        if run_state is None or run_state.state in OVER:
            return Answer.ACK  # stopped while queued, or already over: nothing to do
        resumed_from = run_state.checkpoint
        run = RunContext.of(dispatch, attempt, resumed_from)
        statistic = resumed_from.statistic if resumed_from else Statistic()
        if run_state.state == JobState.STOPPING:
            await self._end(subjects.JOB_STOPPED, run, statistic)
            return Answer.ACK
        if attempt > self._settings.max_attempts:
            error = (
                f"Processing gave up after {self._settings.max_attempts} attempts: the detector running it "
                "was lost each time (the video may crash the decoder)."
            )
            await self._end(subjects.JOB_FAILED, run, statistic, error)
            return Answer.ACK
        return await self._run_job(run)

    async def _run_job(self, run: RunContext) -> Answer:
        if (parts := await self._prepare(run)) is None:
            return Answer.ACK
        job = Job(run, self._objects, run.resumed_from, parts.report, self._settings.progress_interval, parts.handler)
        self._running.add(job)
        try:
            async with self._watching(job, run) as superseded:
                try:
                    statistic = await self._process(job, run, parts, superseded)
                except JobFailure as failure:
                    await self._end(subjects.JOB_FAILED, run, job.statistic, str(failure))
                    return Answer.ACK
        finally:
            self._running.discard(job)
        return await self._after(job, run, parts, statistic, superseded)

    async def _prepare(self, run: RunContext) -> Collaborators | None:
        """The job's collaborators, its tracks restored, and `job.started` out; None if the run
        cannot start (then it failed)."""
        if not archive.is_source_of(run.source.key, run.video_id):
            # The dispatch comes from stored documents: it must not point the decoder elsewhere.
            log.warning("run %s: source key %r refused: not archive %d's", run.run_id, run.source.key, run.video_id)
            await self._end(
                subjects.JOB_FAILED, run, Statistic(), "The archive's source is not one of its own objects."
            )
            return None
        try:
            parts = await assemble(run, self._settings, self._objects, self._publish)
        except ModelLoadError as error:
            await self._end(subjects.JOB_FAILED, run, Statistic(), f"A detector model cannot load: {error}")
            return None
        if parts.handler is not None and run.resumed_from is not None:
            await restore_tracking(self._objects, parts.handler, run, run.resumed_from)
        worker = self._settings.worker_name
        started = JobStarted(run_id=run.run_id, video_id=run.video_id, attempt=run.attempt, worker=worker)
        await self._publish(subjects.JOB_STARTED, started, f"{run.run_id}-{run.attempt}-started")
        return parts

    async def _process(self, job: Job, run: RunContext, parts: Collaborators, superseded: asyncio.Event) -> Statistic:
        """The job loop, then (unless it was handed back or taken over) the tracks still open at
        its end and, for a run not stopped, what it posted; the router's deliveries last."""
        async with parts.router.running() if parts.router else contextlib.nullcontext():
            statistic = await asyncio.to_thread(job.run)
            if parts.handler is not None and not (self._shutting_down or superseded.is_set()):
                await asyncio.to_thread(parts.handler.finish, statistic)
                if not job.stopped_early:
                    await self._posted(run, parts.handler)  # before job.finished: clusters follow
        if parts.handler is not None:
            parts.handler.count_deliveries(statistic)  # the router's last ones
        return statistic

    async def _after(
        self, job: Job, run: RunContext, parts: Collaborators, statistic: Statistic, superseded: asyncio.Event
    ) -> Answer:
        """The run's end, unless the job is handed back or a later attempt took it over."""
        if self._shutting_down:
            return Answer.HAND_BACK
        if superseded.is_set():
            log.warning("run %s attempt %d was taken over by a later attempt", run.run_id, run.attempt)
            return Answer.NONE
        ended = subjects.JOB_STOPPED if job.stopped_early else subjects.JOB_FINISHED
        await self._end(ended, run, statistic, parts.describe.problem if parts.describe else None)
        return Answer.ACK

    @contextlib.asynccontextmanager
    async def _watching(self, job: Job, run: RunContext) -> AsyncIterator[asyncio.Event]:
        """Stops the job when the scheduler says so (`job.stop.<run_id>`): every attempt, or this
        one because a later attempt took the run over (then `superseded` is set). An ordered
        consumer from the subject's first message: a stop sent before the job started counts, and
        one sent while NATS was away comes once it is back."""
        superseded = asyncio.Event()

        async def heard(message: Msg) -> None:
            stop = Envelope[JobStop].model_validate_json(message.data).payload
            if stop.stops(run.attempt):
                if stop.attempt is not None:
                    superseded.set()
                job.stop.set()

        stream = self._broker.connection.jetstream()
        subject = subjects.job_stop(run.run_id)
        subscription = await stream.subscribe(
            subject, stream=EVENTS_STREAM.name, cb=heard, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        try:
            yield superseded
        finally:
            job.stop.set()
            await subscription.unsubscribe()

    async def _end(self, subject: str, run: RunContext, statistic: Statistic, error: str | None = None) -> None:
        """The run is over: no attempt resumes it, so its tracking states go."""
        ended = JobEnded(
            run_id=run.run_id, video_id=run.video_id, attempt=run.attempt, statistic=statistic, error=error
        )
        await self._publish(subject, ended, f"{run.run_id}-{run.attempt}-{subject}")
        self._ended.append(run.run_id)
        try:
            await self._objects.remove_prefix(run.tracking_state_key(""))
        except Exception as failure:  # housekeeping only: deleting the archive removes them too
            log.warning("run %s: its tracking states stay (%s)", run.run_id, failure)

    async def _posted(self, run: RunContext, handler: DetectionHandler) -> None:
        """What the run posted of each kind it detects: once storage has recorded all of a kind, it
        says so, and that kind is clustered (`vidar_detector.run_clustering`)."""
        posted = {kind: handler.published[kind] for kind in run.kinds}
        run_posted = RunPosted(video_id=run.video_id, run_id=run.run_id, posted=posted)
        await self._publish(subjects.VIDEO_DETECTIONS_POSTED, run_posted, run_posted.event_id)

    async def _publish(self, subject: str, payload: BaseModel, message_id: str) -> None:
        await publish(self._broker, subject, payload, message_id)


async def publish(broker: NatsBroker, subject: str, payload: BaseModel, message_id: str) -> None:
    """One event into the events stream; JetStream drops a copy with the same message id."""
    event: Envelope[BaseModel] = Envelope(type=subject, payload=payload, event_id=message_id)
    await broker.publish(
        event.model_dump_json().encode(),
        subject,
        headers={"Nats-Msg-Id": message_id, "content-type": "application/json"},
        stream=EVENTS_STREAM.name,
        timeout=10,
    )


async def acknowledge(message: NatsMessage, pause: float = 1.0) -> None:
    """Acknowledge the dispatch and retry until JetStream confirms it (a double ack), while the
    message is kept alive. A plain ack sent as NATS went away was lost, and JetStream redelivered
    a run that had ended to whichever replica came next, which ran it again if the scheduler had
    not yet recorded the end. The end is published first: a detector that dies between the two
    leaves the dispatch to be redelivered, and the run is then over or resumed from its checkpoint
    (posts are idempotent by event id). Acknowledging first would leave a run whose end was never
    published RUNNING for ever: nothing dispatches a run again but JetStream's redelivery."""
    while True:
        try:
            await message.ack_sync()
        except nats.errors.Error as failure:
            log.warning("dispatch acknowledgement not confirmed (%s); trying again", failure)
            await asyncio.sleep(pause)
        else:
            return


async def restore_tracking(
    objects: ObjectStore, handler: DetectionHandler, run: RunInput, checkpoint: Checkpoint
) -> bool:
    """Go on with the tracks of the checkpoint; False (and logged) without its state. A state that
    is gone, of another version, damaged, or named by a key outside this run's own prefix (the
    checkpoint is a stored document: whoever can write one must not choose what the detector
    reads) is refused: the run resumes from the checkpoint's frame with fresh trackers. The
    tracks open then end there and the rest of them come back as new tracks, but nothing posted
    before the checkpoint is posted again, as a start from the beginning would (under new ids)."""
    handler.number_after(checkpoint.statistic.frames_processed)
    if (key := checkpoint.tracking_state_key) is None:
        return False
    try:
        if not archive.is_under(key, archive.tracking_state(run.video_id, run.run_id, "")):
            raise InvalidState("its key is not under this run's own prefix")
        if (snapshot := await objects.get_bytes(key)) is None:
            raise InvalidState("no such object")
        handler.restore(snapshot)
    except Exception as error:  # whatever the state is, the run goes on without it
        log.warning(
            "run %s: tracking state %r refused (%s): resuming after frame %d with no live tracks",
            run.run_id,
            key[:200],
            error,
            checkpoint.statistic.frames_processed,
        )
        return False
    return True
