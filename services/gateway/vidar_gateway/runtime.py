"""The gateway's connections and stores, built once at start-up and shared by every request."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from faststream.nats import NatsBroker
from pymongo import AsyncMongoClient

from vidar import mongo, subjects
from vidar.bus import EVENTS_STREAM, make_broker
from vidar.models.events import Envelope, MatchAcknowledged, VideoChanged, VideoDeleted
from vidar.models.jobs import ProcessRequested, StopRequested
from vidar.models.matches import DetectionMatched
from vidar.models.stream_settings import DETECTOR_TYPES
from vidar.objectstore import ObjectStore
from vidar.outbox import Outbox
from vidar.startup import until_servers_answer
from vidar_gateway.auth import Role, TokenStore
from vidar_gateway.camera_groups.store import CameraGroupStore
from vidar_gateway.clusters.store import ClusterStore
from vidar_gateway.events.store import EventStore
from vidar_gateway.settings import GatewaySettings
from vidar_gateway.videos.processing import ProcessingRequests
from vidar_gateway.videos.sources import Sources
from vidar_gateway.videos.store import VideoStore


def declare_publishers(broker: NatsBroker) -> None:
    """The gateway's events, for the AsyncAPI document and the stream declaration."""
    for subject, schema in (
        (subjects.VIDEO_CREATED, Envelope[VideoChanged]),
        (subjects.VIDEO_UPDATED, Envelope[VideoChanged]),
        (subjects.VIDEO_DELETED, Envelope[VideoDeleted]),
        (subjects.VIDEO_PROCESS_REQUESTED, Envelope[ProcessRequested]),
        (subjects.VIDEO_STOP_REQUESTED, Envelope[StopRequested]),
        *((subjects.match(kind), Envelope[DetectionMatched]) for kind in DETECTOR_TYPES),
        *((subjects.acknowledgement(kind), Envelope[MatchAcknowledged]) for kind in DETECTOR_TYPES),
    ):
        broker.publisher(subject, stream=EVENTS_STREAM, schema=schema, title=subject)


@dataclass
class Runtime:
    settings: GatewaySettings
    mongo: AsyncMongoClient
    broker: NatsBroker
    objects: ObjectStore
    outbox: Outbox
    videos: VideoStore
    sources: Sources
    processing: ProcessingRequests
    camera_groups: CameraGroupStore
    tokens: TokenStore
    events: EventStore
    clusters: ClusterStore


@contextlib.asynccontextmanager
async def running(settings: GatewaySettings) -> AsyncIterator[Runtime]:
    client = mongo.connect(settings)
    db = client[settings.mongo_db]
    broker = make_broker(settings, name="gateway")
    declare_publishers(broker)
    outbox = Outbox(db, broker)
    objects = ObjectStore(settings)
    videos = VideoStore(db, outbox, settings.default_stream_settings)
    runtime = Runtime(
        settings=settings,
        mongo=client,
        broker=broker,
        objects=objects,
        outbox=outbox,
        videos=videos,
        sources=Sources(db, objects, broker, settings.max_source_bytes),
        processing=ProcessingRequests(videos, outbox),
        camera_groups=CameraGroupStore(db),
        tokens=TokenStore(db),
        events=EventStore(db),
        clusters=ClusterStore(db),
    )
    await until_servers_answer(_prepare)(runtime)
    relay = asyncio.create_task(outbox.relay_forever(interval=settings.outbox_relay_interval))
    try:
        yield runtime
    finally:
        relay.cancel()
        await broker.stop()
        await client.close()


async def _prepare(runtime: Runtime) -> None:
    await runtime.videos.ensure_indexes()
    await runtime.events.ensure_indexes()
    await runtime.clusters.ensure_indexes()
    await runtime.camera_groups.ensure_default()
    if runtime.settings.admin_token:
        await runtime.tokens.add(runtime.settings.admin_token.get_secret_value(), Role.ADMIN, "bootstrap admin")
    await runtime.objects.ensure_bucket()
    await runtime.broker.start()
