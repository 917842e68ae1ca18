"""The detector's FastStream application: one job at a time from the work queue, and the
clustering of each run's objects once storage has recorded them."""

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial

from faststream.asgi import AsgiFastStream
from faststream.nats import NatsBroker
from faststream.nats.annotations import NatsMessage
from pydantic import BaseModel

from vidar import mongo, subjects
from vidar.bus import EVENTS_STREAM, JOBS_STREAM, durable_subscriber, keeping_alive, make_broker
from vidar.models.clustering import DetectionsStored, RunPosted
from vidar.models.events import Envelope
from vidar.models.jobs import DetectionPosted, JobDispatch, JobEnded, JobProgress, JobStarted, VideoClustered
from vidar.models.stream_settings import DETECTOR_TYPES
from vidar.objectstore import ObjectStore
from vidar.probes import health_routes
from vidar_detector.image_search import serve_image_search
from vidar_detector.run_clustering import RunClusters
from vidar_detector.settings import DetectorSettings
from vidar_detector.worker import Worker, publish


def declare_reports(broker: NatsBroker) -> None:
    """What a detector publishes, for the AsyncAPI document and the stream declaration."""
    reports: list[tuple[str, type[BaseModel]]] = [
        (subjects.JOB_STARTED, Envelope[JobStarted]),
        (subjects.JOB_PROGRESS, Envelope[JobProgress]),
        *(
            (subject, Envelope[JobEnded])
            for subject in (subjects.JOB_FINISHED, subjects.JOB_FAILED, subjects.JOB_STOPPED)
        ),
        *((subjects.detection(kind), Envelope[DetectionPosted]) for kind in DETECTOR_TYPES),
        (subjects.VIDEO_DETECTIONS_POSTED, Envelope[RunPosted]),
        (subjects.VIDEO_CLUSTERED, Envelope[VideoClustered]),
    ]
    for subject, schema in reports:
        broker.publisher(subject, stream=EVENTS_STREAM, schema=schema, title=subject)


def create_app(settings: DetectorSettings | None = None) -> AsgiFastStream:
    settings = settings or DetectorSettings()
    broker = make_broker(settings, name="detector")
    client = mongo.connect(settings)
    worker = Worker(settings, client[settings.mongo_db], broker, ObjectStore(settings))

    # One delivery more than the attempts, so the detector that gets it can fail the job.
    @durable_subscriber(
        broker,
        subjects.JOB_DISPATCH,
        durable="detectors",
        description="run a job",
        stream=JOBS_STREAM,
        ack_wait=timedelta(seconds=settings.heartbeat_timeout),
        max_deliver=settings.max_attempts + 1,
    )
    async def run_job(event: Envelope[JobDispatch], message: NatsMessage) -> None:
        await worker.run(event.payload, message.raw_message.metadata.num_delivered, message)

    run_clusters = RunClusters(settings, client[settings.mongo_db], partial(publish, broker))

    # Acknowledged once `video.clustered` is out: a detector that dies meanwhile leaves it to
    # another. Named under `detectors`, the prefix that makes its dead letters vidar's own.
    @durable_subscriber(
        broker,
        subjects.VIDEO_DETECTIONS_STORED,
        durable="detectors-clustering",
        description="cluster a run's objects of one kind once storage has recorded them all",
    )
    async def cluster_run(event: Envelope[DetectionsStored], message: NatsMessage) -> None:
        async with keeping_alive(message):
            await run_clusters.cluster(event.payload)

    declare_reports(broker)
    serve_image_search(broker, settings, ObjectStore(settings))

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.close()

    return AsgiFastStream(broker, lifespan=lifespan, asgi_routes=health_routes(broker), on_shutdown=[worker.shut_down])
