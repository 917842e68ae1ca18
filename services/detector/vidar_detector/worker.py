"""The async side of a job: checks before starting, heartbeats, stop requests, and the reports
to the scheduler. The job loop itself runs in a thread (`vidar_detector.job`)."""

import asyncio
import contextlib
import enum
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from datetime import timedelta
from functools import partial

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
    DetectionPosted,
    JobDispatch,
    JobEnded,
    JobProgress,
    JobStarted,
    JobState,
    JobStop,
    Statistic,
)
from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar.objectstore import ObjectStore
from vidar.urlguard import Allowlist
from vidar_detector import appearance, faces
from vidar_detector.appearance import AppearanceEmbedder
from vidar_detector.attributes.describe import Describer, describer
from vidar_detector.detection import DetectionHandler
from vidar_detector.detectors import ModelLoadError, set_model_threads
from vidar_detector.job import Job, JobFailure, Report
from vidar_detector.lanes import load_lanes
from vidar_detector.publishing import Images, Publish
from vidar_detector.router import RouterDelivery
from vidar_detector.settings import DetectorSettings
from vidar_detector.tracking_state import InvalidState

log = logging.getLogger(__name__)


class Answer(enum.Enum):
    """What the job's message gets once the job is over or handed back."""

    ACK = enum.auto()  # the run is over (or never to be run)
    HAND_BACK = enum.auto()  # shutting down: another detector resumes it at once
    NONE = enum.auto()  # a later attempt took it over and answers it


# Tracking states kept per attempt: the scheduler records checkpoints in order, a little behind.
KEPT_TRACKING_STATES = 3
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
        record = await self._jobs.find_one({"_id": dispatch.run_id})
        if record is None or record["state"] in OVER:
            return Answer.ACK  # stopped while queued, or already over: nothing to do
        if record["state"] == JobState.STOPPING:
            checkpoint = Checkpoint.model_validate(record.get("checkpoint") or {})
            await self._end(subjects.JOB_STOPPED, dispatch, attempt, checkpoint.statistic)
            return Answer.ACK
        if attempt > self._settings.max_attempts:
            error = (
                f"Processing gave up after {self._settings.max_attempts} attempts: the detector running it "
                "was lost each time (the video may crash the decoder)."
            )
            checkpoint = Checkpoint.model_validate(record.get("checkpoint") or {})
            await self._end(subjects.JOB_FAILED, dispatch, attempt, checkpoint.statistic, error)
            return Answer.ACK
        resumed = Checkpoint.model_validate(record["checkpoint"]) if record.get("checkpoint") else None
        return await self._run_job(dispatch, attempt, resumed)

    async def _run_job(self, dispatch: JobDispatch, attempt: int, checkpoint: Checkpoint | None) -> Answer:
        if not archive.is_source_of(dispatch.source.key, dispatch.video_id):
            # The dispatch comes from stored documents: it must not point the decoder elsewhere.
            log.warning(
                "run %s: source key %r refused: not archive %d's",
                dispatch.run_id,
                dispatch.source.key,
                dispatch.video_id,
            )
            reason = "The archive's source is not one of its own objects."
            await self._end(subjects.JOB_FAILED, dispatch, attempt, Statistic(), reason)
            return Answer.ACK
        router = self._router(dispatch)
        describe = await self._describer(dispatch)
        try:
            handler = await self._detection(dispatch, attempt, router, describe)
        except ModelLoadError as error:
            reason = f"A detector model cannot load: {error}"
            await self._end(subjects.JOB_FAILED, dispatch, attempt, Statistic(), reason)
            return Answer.ACK
        if handler is not None and checkpoint is not None:
            await restore_tracking(self._objects, handler, dispatch, checkpoint)
        worker = self._settings.worker_name
        started = JobStarted(run_id=dispatch.run_id, video_id=dispatch.video_id, attempt=attempt, worker=worker)
        await self._publish(subjects.JOB_STARTED, started, f"{dispatch.run_id}-{attempt}-started")
        report = self._reporter(dispatch, attempt)
        job = Job(dispatch, self._objects, checkpoint, report, self._settings.progress_interval, handler)
        self._running.add(job)
        try:
            async with (
                self._watching(job, attempt) as superseded,
                router.running() if router else contextlib.nullcontext(),
            ):
                try:
                    statistic = await asyncio.to_thread(job.run)
                except JobFailure as failure:
                    await self._end(subjects.JOB_FAILED, dispatch, attempt, job.statistic, str(failure))
                    return Answer.ACK
                if handler is not None and not (self._shutting_down or superseded.is_set()):
                    await asyncio.to_thread(handler.finish, statistic)  # the tracks still open at the end
                    if not job.stopped_early:
                        await self._posted(dispatch, handler)  # before job.finished: clusters follow
            if handler is not None:
                handler.count_deliveries(statistic)  # the router's last ones
        finally:
            self._running.discard(job)
        if self._shutting_down:
            return Answer.HAND_BACK
        if superseded.is_set():
            log.warning("run %s attempt %d was taken over by a later attempt", dispatch.run_id, attempt)
            return Answer.NONE
        ended = subjects.JOB_STOPPED if job.stopped_early else subjects.JOB_FINISHED
        await self._end(ended, dispatch, attempt, statistic, describe.problem if describe else None)
        return Answer.ACK

    async def _describer(self, dispatch: JobDispatch) -> Describer | None:
        """The attribute networks, for a run that detects anything with attributes on; those that
        cannot load are logged now, and are the run's error at its end (its posts go on without
        their attributes)."""
        if not detected_kinds(dispatch):
            return None
        describe = await asyncio.to_thread(describer, self._settings)
        if describe and describe.problem:
            log.warning("run %s: %s", dispatch.run_id, describe.problem)
        return describe

    async def _detection(
        self, dispatch: JobDispatch, attempt: int, router: RouterDelivery | None, describe: Describer | None
    ) -> DetectionHandler | None:
        """The detectors the run asks for (loaded once per process), or None if it asks for none."""
        if not (kinds := set(detected_kinds(dispatch))):
            return None
        detectors = dispatch.stream_settings.detectors
        deep_sort = any(getattr(detectors, kind).tracker_type == "deep_sort" for kind in kinds)
        models = await asyncio.to_thread(load_lanes, self._settings, kinds)
        embedder = await asyncio.to_thread(load_embedders, self._settings, kinds, deep_sort)
        set_model_threads(self._settings.lane_threads)
        return DetectionHandler(
            dispatch,
            models,
            attempt,
            self._poster(dispatch, router),
            detection_rate=self._settings.detection_rate,
            appearance=embedder.embed if embedder and deep_sort else None,
            features=partial(appearance.embed_object, embedder),
            face_chip=faces.face_chip,
            describe=describe,
            deliveries=router,
        )

    def _router(self, dispatch: JobDispatch) -> RouterDelivery | None:
        if not dispatch.router_url:
            return None
        settings = dispatch.stream_settings
        return RouterDelivery(
            dispatch.router_url,
            timeout_ms=settings.router_timeout_ms,
            verify_ssl=settings.router_verify_ssl,
            allowlist=Allowlist.parse(self._settings.url_allowlist),
        )

    def _poster(self, dispatch: JobDispatch, router: RouterDelivery | None) -> Publish:
        loop = asyncio.get_running_loop()

        def post(detection: DetectionPosted, images: Images) -> None:
            """Called in the job thread: the images first, then the event that points at them."""
            name = f"{detection.kind}-{detection.track_id}-{detection.post}-{detection.sequence}"
            thumbnail_key = archive.detection_images(dispatch.video_id, dispatch.run_id, f"{name}.jpg")
            extension, media_type = ("png", "image/png") if images.full_frame_type == "PNG" else ("jpg", "image/jpeg")
            frame_key = archive.detection_images(dispatch.video_id, dispatch.run_id, f"{name}-frame.{extension}")
            self._objects.write(thumbnail_key, images.thumbnail, "image/jpeg")
            self._objects.write(frame_key, images.full_frame, media_type)
            posted = detection.model_copy(update={"thumbnail_key": thumbnail_key, "full_frame_key": frame_key})
            subject = subjects.detection(detection.kind)
            sent = asyncio.run_coroutine_threadsafe(self._publish(subject, posted, posted.event_id), loop)
            sent.result(timeout=30)
            if router is not None:
                router.submit(posted, images)

        return post

    @contextlib.asynccontextmanager
    async def _watching(self, job: Job, attempt: int) -> AsyncIterator[asyncio.Event]:
        """Stops the job when the scheduler says so (`job.stop.<run_id>`): every attempt, or this
        one because a later attempt took the run over (then `superseded` is set). An ordered
        consumer from the subject's first message: a stop sent before the job started counts, and
        one sent while NATS was away comes once it is back."""
        superseded = asyncio.Event()

        async def heard(message: Msg) -> None:
            stop = Envelope[JobStop].model_validate_json(message.data).payload
            if stop.stops(attempt):
                if stop.attempt is not None:
                    superseded.set()
                job.stop.set()

        stream = self._broker.connection.jetstream()
        subject = subjects.job_stop(job.dispatch.run_id)
        subscription = await stream.subscribe(
            subject, stream=EVENTS_STREAM.name, cb=heard, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        try:
            yield superseded
        finally:
            job.stop.set()
            await subscription.unsubscribe()

    def _reporter(self, dispatch: JobDispatch, attempt: int) -> Report:
        loop = asyncio.get_running_loop()
        sent: list[Future] = []
        sequence = iter(range(1, 1 << 62))
        states: deque[str] = deque()

        def keep_state(snapshot: bytes, number: int) -> str | None:
            """Store a tracking state (in the job thread, between frames); drop the oldest. None
            if it cannot be stored: the checkpoint goes without, as a resume can."""
            key = archive.tracking_state(dispatch.video_id, dispatch.run_id, f"{attempt}-{number}")
            try:
                self._objects.write(key, snapshot, "application/octet-stream")
            except Exception as failure:  # S3 down: the run goes on, its posts fail and count so
                log.warning("run %s: tracking state not stored (%s)", dispatch.run_id, failure)
                return None
            states.append(key)
            while len(states) > KEPT_TRACKING_STATES:
                asyncio.run_coroutine_threadsafe(self._objects.remove(states.popleft()), loop)
            return key

        def report(checkpoint: Checkpoint, snapshot: Callable[[], bytes | None]) -> None:
            """Called in the job thread: publish without waiting, skip if the last is still going."""
            if sent and not sent[-1].done():
                return
            number = next(sequence)
            if (state := snapshot()) is not None:
                checkpoint = checkpoint.model_copy(update={"tracking_state_key": keep_state(state, number)})
            progress = JobProgress(
                run_id=dispatch.run_id, video_id=dispatch.video_id, attempt=attempt, checkpoint=checkpoint
            )
            message_id = f"{dispatch.run_id}-{attempt}-progress-{number}"
            sent[:] = [
                asyncio.run_coroutine_threadsafe(self._publish(subjects.JOB_PROGRESS, progress, message_id), loop)
            ]

        return report

    async def _end(
        self, subject: str, dispatch: JobDispatch, attempt: int, statistic: Statistic, error: str | None = None
    ) -> None:
        """The run is over: no attempt resumes it, so its tracking states go."""
        ended = JobEnded(
            run_id=dispatch.run_id, video_id=dispatch.video_id, attempt=attempt, statistic=statistic, error=error
        )
        await self._publish(subject, ended, f"{dispatch.run_id}-{attempt}-{subject}")
        self._ended.append(dispatch.run_id)
        try:
            await self._objects.remove_prefix(archive.tracking_state(dispatch.video_id, dispatch.run_id, ""))
        except Exception as failure:  # housekeeping only: deleting the archive removes them too
            log.warning("run %s: its tracking states stay (%s)", dispatch.run_id, failure)

    async def _posted(self, dispatch: JobDispatch, handler: DetectionHandler) -> None:
        """What the run posted of each kind it detects: once storage has recorded all of a kind, it
        says so, and that kind is clustered (`vidar_detector.run_clustering`)."""
        posted = {kind: handler.published[kind] for kind in detected_kinds(dispatch)}
        run_posted = RunPosted(video_id=dispatch.video_id, run_id=dispatch.run_id, posted=posted)
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


def detected_kinds(dispatch: JobDispatch) -> list[DetectorType]:
    """The kinds of object the run detects."""
    detectors = dispatch.stream_settings.detectors
    return [kind for kind in DETECTOR_TYPES if getattr(detectors, kind) is not None]


async def restore_tracking(
    objects: ObjectStore, handler: DetectionHandler, dispatch: JobDispatch, checkpoint: Checkpoint
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
        if not archive.is_under(key, archive.tracking_state(dispatch.video_id, dispatch.run_id, "")):
            raise InvalidState("its key is not under this run's own prefix")
        if (snapshot := await objects.get_bytes(key)) is None:
            raise InvalidState("no such object")
        handler.restore(snapshot)
    except Exception as error:  # whatever the state is, the run goes on without it
        log.warning(
            "run %s: tracking state %r refused (%s): resuming after frame %d with no live tracks",
            dispatch.run_id,
            key[:200],
            error,
            checkpoint.statistic.frames_processed,
        )
        return False
    return True


def load_embedders(settings: DetectorSettings, kinds: set[DetectorType], deep_sort: bool) -> AppearanceEmbedder | None:
    """Load now what posting will need, so a missing model fails the run before it starts: the
    appearance embedder, if bodies or cars are posted or tracked by appearance."""
    if "face" in kinds:
        faces.face_embedder()
    if deep_sort or kinds - {"face"}:
        return appearance.appearance_embedder(settings.appearance_model.resolve())
    return None
