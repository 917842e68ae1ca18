"""The storage service's FastStream application: bus subscriptions wired to `Storage`."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from faststream.asgi import AsgiFastStream
from faststream.nats import NatsBroker
from faststream.nats.annotations import NatsMessage
from pydantic import BaseModel

from vidar import mongo, subjects
from vidar.bus import (
    EVENTS_STREAM,
    STORAGE_DETECTIONS,
    STORAGE_JOBS_STREAM,
    durable_subscriber,
    keeping_alive,
    make_broker,
)
from vidar.models.clustering import DetectionsStored, RunPosted
from vidar.models.events import (
    Envelope,
    ScreenshotReply,
    ScreenshotRequest,
    VideoChanged,
    VideoDeleted,
    VideoFetchFailed,
    VideoFetchProgress,
    VideoProbed,
)
from vidar.models.jobs import DetectionPosted, VideoClustered, VideoProcessing
from vidar.models.matches import DetectionMatched
from vidar.objectstore import ObjectStore
from vidar.outbox import Outbox
from vidar.probes import health_routes
from vidar.startup import until_servers_answer
from vidar_storage.abandoned_uploads import AbandonedUploads
from vidar_storage.acknowledgements import Acknowledgements, serve_acknowledgements
from vidar_storage.clusters import ClusterRecords
from vidar_storage.detections import DetectionRecords
from vidar_storage.event_counts import EventCounts
from vidar_storage.matches import MatchRecords
from vidar_storage.service import Storage
from vidar_storage.settings import StorageSettings
from vidar_storage.source_pointer import SourceJob, SourcePointers, serve_source_changes

log = logging.getLogger(__name__)
# The consumer of storage's own jobs (`SourceJob`) on its work queue.
SOURCE_JOBS = "storage-source-jobs"


def subscribe(
    broker: NatsBroker,
    storage: Storage,
    records: DetectionRecords,
    clusters: ClusterRecords,
    matches: MatchRecords,
    acknowledgements: Acknowledgements,
) -> None:
    @durable_subscriber(
        broker,
        subjects.SOURCE_JOB,
        durable=SOURCE_JOBS,
        stream=STORAGE_JOBS_STREAM,
        description="storage's own work once a source changed: remove the replaced file, probe the new one",
    )
    async def settle_source(job: Envelope[SourceJob], message: NatsMessage) -> None:
        async with keeping_alive(message):
            await storage.settle_source(job.payload)

    @durable_subscriber(
        broker, subjects.VIDEO_DELETED, durable="storage-deleted", description="remove the archive's files"
    )
    async def archive_deleted(event: Envelope[VideoDeleted]) -> None:
        await storage.archive_deleted(event.payload)

    for subject in (subjects.VIDEO_CREATED, subjects.VIDEO_UPDATED):
        durable = f"storage-{subject.replace('.', '-')}"

        @durable_subscriber(broker, subject, durable=durable, description="fetch a url source")
        async def archive_changed(event: Envelope[VideoChanged], message: NatsMessage) -> None:
            if not event.payload.video.url:  # nothing to fetch: no read of the archive (burst of creates)
                return
            async with keeping_alive(message):
                await storage.archive_changed(event.payload.video.id)

    @durable_subscriber(broker, subjects.DETECTIONS, durable=STORAGE_DETECTIONS, description="record a detection")
    async def detection_posted(event: Envelope[DetectionPosted]) -> None:
        await records.record(event.payload)

    @durable_subscriber(
        broker,
        subjects.VIDEO_DETECTIONS_POSTED,
        durable="storage-run-posted",
        description="await a finished run's detections, and say when each kind is all stored",
    )
    async def run_posted(event: Envelope[RunPosted]) -> None:
        await records.run_posted(event.payload)

    @durable_subscriber(broker, subjects.VIDEO_CLUSTERED, durable="storage-clustered", description="record clusters")
    async def video_clustered(event: Envelope[VideoClustered]) -> None:
        await clusters.apply(event.payload)

    # A match may come before its event's record: its retries wait for it (vidar_storage.matches).
    @durable_subscriber(
        broker, subjects.MATCHES, durable="storage-matches", description="keep a match on its event", max_deliver=10
    )
    async def detection_matched(event: Envelope[DetectionMatched]) -> None:
        await matches.keep(event.payload)
        await acknowledgements.require(event.payload)

    queued = subjects.video_processing("queued")

    @durable_subscriber(broker, queued, durable="storage-new-run", description="drop the previous run's detections")
    async def run_queued(event: Envelope[VideoProcessing]) -> None:
        if event.payload.run_id:
            await records.new_run(event.payload.video_id, event.payload.run_id)

    @broker.subscriber(
        subjects.SCREENSHOT_REQUEST, queue="storage", title="storage-screenshot", description="draw a screenshot"
    )
    async def redraw_screenshot(request: ScreenshotRequest) -> ScreenshotReply:
        # The gateway waits for a reply: a failure is one too, never silence until its timeout.
        try:
            return await storage.redraw_screenshot(request)
        except Exception as error:
            log.exception("the screenshot of video %d could not be drawn", request.video_id)
            return ScreenshotReply(error=f"the storage service could not draw it ({type(error).__name__}: {error})")

    announced: list[tuple[str, type[BaseModel]]] = [
        (subjects.VIDEO_PROBED, Envelope[VideoProbed]),
        (subjects.VIDEO_FETCH_FAILED, Envelope[VideoFetchFailed]),
        (subjects.VIDEO_FETCH_PROGRESS, Envelope[VideoFetchProgress]),
        (subjects.VIDEO_DETECTIONS_STORED, Envelope[DetectionsStored]),
    ]
    for subject, schema in announced:
        broker.publisher(subject, stream=EVENTS_STREAM, schema=schema, title=subject)


def create_app(settings: StorageSettings | None = None) -> AsgiFastStream:
    settings = settings or StorageSettings()
    broker = make_broker(settings, name="storage")
    client = mongo.connect(settings)
    db = client[settings.mongo_db]
    objects = ObjectStore(settings)
    outbox = Outbox(db, broker)
    records = DetectionRecords(db, outbox)
    clusters = ClusterRecords(client, db)
    acknowledgements = Acknowledgements(db)
    subscribe(broker, Storage(settings, db, objects, outbox), records, clusters, MatchRecords(db), acknowledgements)
    serve_acknowledgements(broker, acknowledgements)
    serve_source_changes(broker, SourcePointers(db, outbox))
    abandoned_uploads = AbandonedUploads(db, objects, settings)

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        await until_servers_answer(objects.ensure_bucket)()
        await until_servers_answer(records.ensure_indexes)()
        await until_servers_answer(clusters.ensure_indexes)()
        await until_servers_answer(EventCounts(db).ensure)()
        relay = asyncio.create_task(outbox.relay_forever())
        sweeper = asyncio.create_task(abandoned_uploads.sweep_forever())
        try:
            yield
        finally:
            relay.cancel()
            sweeper.cancel()
            await client.close()

    return AsgiFastStream(broker, lifespan=lifespan, asgi_routes=health_routes(broker))
