"""The scheduler's FastStream application: bus subscriptions wired to `Scheduler`, and the
periodic pass (dispatch, heartbeats) of the replica that holds the lease."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from faststream.asgi import AsgiFastStream
from faststream.nats import NatsBroker
from faststream.nats.annotations import NatsMessage

from vidar import mongo, subjects
from vidar.bus import EVENTS_STREAM, JOBS_STREAM, durable_subscriber, make_broker
from vidar.dead_letters import (
    ADVISORIES_STREAM,
    DEAD_LETTER_SUBJECTS,
    DEAD_LETTERS_STREAM,
    MAX_DELIVERIES_ADVISORIES,
    DeadLetter,
    Header,
    MaxDeliveries,
    dead_letter_of,
)
from vidar.models.events import (
    Envelope,
    VideoChanged,
    VideoDeleted,
    VideoFetchFailed,
    VideoFetchProgress,
    VideoProbed,
    VideoUploaded,
)
from vidar.models.jobs import (
    JobDispatch,
    JobEnded,
    JobProgress,
    JobStarted,
    JobState,
    JobStop,
    ProcessRequested,
    StopRequested,
    VideoProcessing,
)
from vidar.outbox import Outbox
from vidar.probes import health_routes
from vidar.startup import until_servers_answer
from vidar_scheduler.lease import Lease
from vidar_scheduler.scheduler import SYNCS_AT_ONCE, Scheduler
from vidar_scheduler.settings import SchedulerSettings
from vidar_scheduler.source_notices import after_fetch_failure, after_probe, after_upload, during_fetch

log = logging.getLogger(__name__)


def subscribe(broker: NatsBroker, scheduler: Scheduler) -> None:
    @durable_subscriber(
        broker,
        subjects.VIDEO_CREATED,
        durable="scheduler-created",
        description="sync a new archive",
        at_once=SYNCS_AT_ONCE,
    )
    async def archive_created(event: Envelope[VideoChanged]) -> None:
        await scheduler.sync(event.payload.video.id)

    @durable_subscriber(broker, subjects.VIDEO_DELETED, durable="scheduler-deleted", description="drop its runs")
    async def archive_deleted(event: Envelope[VideoDeleted]) -> None:
        await scheduler.forget(event.payload.video_id)

    @durable_subscriber(
        broker, subjects.VIDEO_UPLOADED, durable="scheduler-uploaded", description="a new file: no problem known"
    )
    async def source_uploaded(event: Envelope[VideoUploaded]) -> None:
        await scheduler.note_source(after_upload(event.payload, event.occurred_at))
        await scheduler.settle_held_run(event.payload.video_id)

    @durable_subscriber(
        broker,
        subjects.VIDEO_PROBED,
        durable="scheduler-probed",
        description="show the probe's verdict; a run awaiting the file goes on or fails",
    )
    async def source_probed(event: Envelope[VideoProbed]) -> None:
        await scheduler.note_source(after_probe(event.payload, event.occurred_at))
        await scheduler.settle_held_run(event.payload.video_id)

    @durable_subscriber(
        broker,
        subjects.VIDEO_FETCH_FAILED,
        durable="scheduler-fetch-failed",
        description="show why a url failed; a run awaiting it fails",
    )
    async def fetch_failed(event: Envelope[VideoFetchFailed]) -> None:
        await scheduler.note_source(after_fetch_failure(event.payload, event.occurred_at))
        await scheduler.settle_held_run(event.payload.video_id)

    @durable_subscriber(
        broker, subjects.VIDEO_FETCH_PROGRESS, durable="scheduler-fetch-progress", description="show a fetch's progress"
    )
    async def fetch_progress(event: Envelope[VideoFetchProgress]) -> None:
        await scheduler.note_source(during_fetch(event.payload, event.occurred_at))

    @durable_subscriber(
        broker, subjects.VIDEO_PROCESS_REQUESTED, durable="scheduler-process", description="queue a run"
    )
    async def process_requested(event: Envelope[ProcessRequested]) -> None:
        await scheduler.request_processing(event.payload)

    @durable_subscriber(broker, subjects.VIDEO_STOP_REQUESTED, durable="scheduler-stop", description="stop a run")
    async def stop_requested(event: Envelope[StopRequested]) -> None:
        await scheduler.request_stop(event.payload.video_id)

    @durable_subscriber(broker, subjects.JOB_STARTED, durable="scheduler-job-started", description="a detector started")
    async def job_started(event: Envelope[JobStarted]) -> None:
        await scheduler.job_started(event.payload)

    @durable_subscriber(broker, subjects.JOB_PROGRESS, durable="scheduler-job-progress", description="heartbeat")
    async def job_progress(event: Envelope[JobProgress]) -> None:
        await scheduler.job_progress(event.payload)

    for subject, state in (
        (subjects.JOB_FINISHED, JobState.FINISHED),
        (subjects.JOB_FAILED, JobState.FAILED),
        (subjects.JOB_STOPPED, JobState.STOPPED),
    ):
        durable_subscriber(
            broker, subject, durable=f"scheduler-{subject.replace('.', '-')}", description="a run ended"
        )(ending_handler(scheduler, state))

    @durable_subscriber(
        broker,
        DEAD_LETTER_SUBJECTS,
        durable="scheduler-dead-letters",
        stream=DEAD_LETTERS_STREAM,
        description=(
            "An event a consumer gave up on, as `dead.<consumer>`: the original body and headers, and "
            f"{', '.join(Header)}. The scheduler shows it on its archive (`error`, `health_status.msg`)."
        ),
    )
    async def event_lost(message: NatsMessage) -> None:
        await scheduler.event_lost(DeadLetter.read(message.headers, message.body))

    @durable_subscriber(
        broker,
        MAX_DELIVERIES_ADVISORIES,
        durable="scheduler-max-deliveries",
        stream=ADVISORIES_STREAM,
        description="JetStream gave up on a message of one of vidar's consumers: kept as its dead letter.",
    )
    async def delivery_given_up(advisory: MaxDeliveries) -> None:
        await dead_letter_of(broker, advisory)

    broker.publisher(subjects.JOB_DISPATCH, stream=JOBS_STREAM, schema=Envelope[JobDispatch], title="job.dispatch")
    broker.publisher(subjects.JOB_STOP, stream=EVENTS_STREAM, schema=Envelope[JobStop], title=subjects.JOB_STOP)
    for status in ("queued", "inprogress", "completed", "failed", "stopped", "not_started"):
        subject = subjects.video_processing(status)
        broker.publisher(subject, stream=EVENTS_STREAM, schema=Envelope[VideoProcessing], title=subject)


def ending_handler(scheduler: Scheduler, state: JobState) -> Callable[[Envelope[JobEnded]], Awaitable[None]]:
    async def job_ended(event: Envelope[JobEnded]) -> None:
        await scheduler.job_ended(event.payload, state)

    return job_ended


async def run_periodic(scheduler: Scheduler, lease: Lease, tick: float) -> None:
    """Only the lease holder dispatches, watches heartbeats, settles runs awaiting their source and
    moves on archives left on a run that is over."""
    while True:
        try:
            await scheduler.count_jobs()
            if await lease.hold():
                await scheduler.watch_heartbeats()
                await scheduler.settle_held_runs()
                await scheduler.settle_ended_runs()
                await scheduler.dispatch()
        except Exception:
            log.exception("scheduler pass failed; retrying")
        await asyncio.sleep(tick)


def create_app(settings: SchedulerSettings | None = None) -> AsgiFastStream:
    settings = settings or SchedulerSettings()
    broker = make_broker(settings, name="scheduler")
    client = mongo.connect(settings)
    db = client[settings.mongo_db]
    outbox = Outbox(db, broker)
    scheduler = Scheduler(settings, db, outbox)
    lease = Lease(db, "scheduler", ttl=timedelta(seconds=max(5 * settings.tick, 5)))
    subscribe(broker, scheduler)

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        await until_servers_answer(scheduler.ensure_indexes)()
        tasks = [
            asyncio.create_task(outbox.relay_forever()),
            asyncio.create_task(run_periodic(scheduler, lease, settings.tick)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await client.close()

    return AsgiFastStream(broker, lifespan=lifespan, asgi_routes=health_routes(broker))
