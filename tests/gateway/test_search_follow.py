"""The embedded index follows the events on the real servers, in this process so that its own
state can be checked: posted objects join it with no scan of `videos`, a new run replaces an
archive's vectors, a deletion removes them from the index itself, nothing published before a
start is lost, and a restart rebuilds and follows again.

The other services are played here: the archives are made through the gateway's API, a run is
queued as the scheduler does (current_run and `video.processing.queued`), objects are posted as a
detector does (`detection.face`), and `Storage` records them as the storage service does, through
a durable consumer of its own, whose ack floor the index starts from."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import nats
import numpy as np
import pytest
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pymongo import AsyncMongoClient, MongoClient
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from tests.stack import Gateway
from vidar import subjects
from vidar.bus import EVENTS_STREAM
from vidar.documents import DetectionRecord
from vidar.health import ProcessingStatus
from vidar.models.events import Envelope
from vidar.models.jobs import DetectionPosted, Statistic, VideoProcessing
from vidar_gateway.search.follower import IndexFollower
from vidar_gateway.search.index import EmbeddedIndex
from vidar_gateway.search.settings import SearchSettings

RNG = np.random.default_rng(11)


class VideosReads(CommandListener):
    """The filters of every `find` on `videos`."""

    def __init__(self) -> None:
        self.filters: list[dict] = []

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command["find"] == "videos":
            self.filters.append(dict(event.command.get("filter", {})))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


@dataclass
class Services:
    """The session's servers, and the archives' camera group."""

    gw: Gateway
    api: httpx.Client
    camera_group: int
    connection: Client
    storage: "Storage"

    def new_archive(self) -> int:
        response = self.api.post("/videos/", json={"camera_group": self.camera_group, "name": "followed"})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def queue_run(self, video_id: int) -> str:
        """As the scheduler does: the archive's current run, then its event."""
        run_id = uuid.uuid4().hex
        self.storage.videos.update_one({"_id": video_id}, {"$set": {"current_run": run_id}})
        queued = VideoProcessing(
            video_id=video_id, run_id=run_id, status=ProcessingStatus.QUEUED, statistic=Statistic()
        )
        await self._publish(subjects.video_processing("queued"), queued, uuid.uuid4().hex)
        return run_id

    async def post(self, video_id: int, run_id: str, track: int) -> DetectionPosted:
        """As a detector does: one face with its embedding."""
        detection = face(video_id, self.camera_group, run_id, track)
        await self._publish(subjects.detection("face"), detection, detection.event_id)
        return detection

    async def _publish(self, subject: str, payload: object, event_id: str) -> None:
        body = Envelope(type=subject, payload=payload, event_id=event_id).model_dump_json().encode()
        await self.connection.jetstream().publish(
            subject, body, stream=EVENTS_STREAM.name, headers={"Nats-Msg-Id": event_id}
        )


def face(video_id: int, camera_group: int, run_id: str, track: int) -> DetectionPosted:
    """A face as a detector posts it, with a random embedding."""
    return DetectionPosted(
        video_id=video_id,
        camera_group=camera_group,
        run_id=run_id,
        kind="face",
        track_id=str(track),
        post="best",
        bbox=(0, 0, 10, 10),
        frame=track,
        stream_time=track / 25,
        timestamp=track / 25,
        quality=0.9,
        embedding=RNG.normal(0, 0.05, 128).tolist(),  # short: see `held`
    )


class Storage:
    """The storage service's part: a durable consumer of `detection.>` that records each posted
    object of its archive's current run and then acknowledges it."""

    def __init__(self, connection: Client, db_url: str) -> None:
        self.name = f"test-storage-{uuid.uuid4().hex[:8]}"
        self._connection = connection
        self._client = MongoClient(db_url, tz_aware=True)
        self._db = self._client["vidar"]
        self.videos = self._db["videos"]

    async def create(self) -> None:
        config = ConsumerConfig(
            durable_name=self.name,
            filter_subject=subjects.DETECTIONS,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
        )
        await self._connection.jetstream().add_consumer(EVENTS_STREAM.name, config)

    async def record(self, count: int) -> list[str]:
        """Records the next `count` posted objects; their event ids."""
        subscription = await self._connection.jetstream().pull_subscribe_bind(self.name, EVENTS_STREAM.name)
        recorded = []
        for message in await subscription.fetch(count, timeout=10):
            detection = Envelope[DetectionPosted].model_validate_json(message.data).payload
            current = {"_id": detection.video_id, "current_run": detection.run_id}
            if self.videos.find_one(current) is not None:
                record = DetectionRecord(**detection.model_dump(), created_date=datetime.now(UTC)).document()
                # Upserted: in a full run the real storage service records it too.
                self._db["detections"].replace_one({"_id": detection.event_id}, record, upsert=True)
                recorded.append(detection.event_id)
            await message.ack_sync()
        await subscription.unsubscribe()
        return recorded

    async def remove(self) -> None:
        await self._connection.jetstream().delete_consumer(EVENTS_STREAM.name, self.name)
        self._client.close()


@pytest.fixture
async def services(gw: Gateway, api: httpx.Client, camera_group: int) -> AsyncIterator[Services]:
    connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
    storage = Storage(connection, gw.env["VIDAR_MONGO_URL"])
    await storage.create()
    try:
        yield Services(gw, api, camera_group, connection, storage)
    finally:
        await storage.remove()
        await connection.close()


@dataclass
class Following:
    index: EmbeddedIndex
    reads: VideosReads


@contextlib.asynccontextmanager
async def following(services: Services) -> AsyncIterator[Following]:
    """An index rebuilt and following, as a gateway's."""
    reads = VideosReads()
    client = AsyncMongoClient(services.gw.env["VIDAR_MONGO_URL"], event_listeners=[reads])
    connection = await nats.connect(services.gw.env["VIDAR_NATS_URL"])
    index = EmbeddedIndex(client["vidar"])
    async with running(IndexFollower(index, connection, stored_by=services.storage.name)):
        yield Following(index, reads)
    await connection.close()
    await client.close()


@contextlib.asynccontextmanager
async def running(follower: IndexFollower) -> AsyncIterator[None]:
    """The follower at work, once it has rebuilt its index, as in a gateway's lifespan."""
    task = asyncio.create_task(follower.run())
    await follower.rebuilt.wait()
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Waits up to 15 s for the index to reach a state."""
    for _ in range(300):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the index did not follow the events within 15 s")


async def held(index: EmbeddedIndex, video_id: int) -> list[str]:
    """The event ids the index itself holds of an archive, as often as it holds them: every row
    is within reach of the origin at threshold 0 (the test vectors are short)."""
    rows = await index.search("face", np.zeros(128, np.float32), 0, {video_id})
    return sorted(row.id for row in rows)


def ids(*detections: DetectionPosted) -> list[str]:
    return sorted(detection.event_id for detection in detections)


async def has(index: EmbeddedIndex, video_id: int, detections: list[DetectionPosted]) -> bool:
    """Whether the index holds exactly these objects of the archive, each once."""
    return await held(index, video_id) == ids(*detections)


async def found(index: EmbeddedIndex, detection: DetectionPosted) -> bool:
    """Whether the index finds the object by its own vector, among every archive's."""
    vector = np.asarray(detection.embedding, np.float32)
    return detection.event_id in {row.id for row in await index.search("face", vector, 0.99, None)}


def test_the_periodic_sync_is_gone() -> None:
    assert not [name for name in SearchSettings.model_fields if "sync" in name]


async def test_an_archive_processed_after_the_start_is_followed_without_a_scan_of_videos(services: Services) -> None:
    async with following(services) as followed:
        index = followed.index
        rebuild_reads = list(followed.reads.filters)
        assert rebuild_reads == [{}], "the rebuild reads every archive's run once"
        video = services.new_archive()
        run = await services.queue_run(video)
        posted = [await services.post(video, run, track) for track in range(3)]
        await until(lambda: has(index, video, posted))
        assert all([await found(index, detection) for detection in posted])
        await asyncio.sleep(2)  # the poll this replaces would have scanned `videos` twice meanwhile
        after_start = followed.reads.filters[len(rebuild_reads) :]
        assert after_start == [{"_id": video}], "one read of the archive's run, when its run was queued"


async def test_a_new_run_replaces_the_vectors_and_a_deleted_archive_leaves_the_index(services: Services) -> None:
    kept, replaced = services.new_archive(), services.new_archive()
    kept_run, first_run = await services.queue_run(kept), await services.queue_run(replaced)
    async with following(services) as followed:
        index = followed.index
        kept_object = await services.post(kept, kept_run, 1)
        old = [await services.post(replaced, first_run, track) for track in range(2)]
        await until(lambda: has(index, replaced, old))

        second_run = await services.queue_run(replaced)
        await until(lambda: has(index, replaced, []))
        late = await services.post(replaced, first_run, 7)  # the first run's, after the second was queued
        new = await services.post(replaced, second_run, 1)
        await until(lambda: has(index, replaced, [new]))
        assert not [detection for detection in [*old, late] if await found(index, detection)]

        assert services.api.delete(f"/videos/{replaced}/").status_code == 204
        # Gone from the index itself, whether or not its records are still in MongoDB.
        await until(lambda: has(index, replaced, []))
        assert not await found(index, new)
        assert await held(index, kept) == ids(kept_object)


async def test_objects_posted_before_the_start_and_not_yet_recorded_are_not_lost(services: Services) -> None:
    video = services.new_archive()
    run = await services.queue_run(video)
    recorded, pending = await services.post(video, run, 1), await services.post(video, run, 2)
    assert await services.storage.record(1) == [recorded.event_id]
    # The index starts now: the first object is in MongoDB, the second only on the stream.
    async with following(services) as followed:
        index = followed.index
        await until(lambda: has(index, video, [recorded, pending]))
        assert await services.storage.record(1) == [pending.event_id]
        await asyncio.sleep(0.5)
        assert await held(index, video) == ids(recorded, pending), "an object both rebuilt and replayed is held once"


async def test_a_restarted_index_rebuilds_and_then_follows(services: Services) -> None:
    video, deleted = services.new_archive(), services.new_archive()
    run, other_run = await services.queue_run(video), await services.queue_run(deleted)
    async with following(services) as followed:
        first, other = await services.post(video, run, 1), await services.post(deleted, other_run, 1)
        await until(lambda: has(followed.index, deleted, [other]))
        await services.storage.record(2)

    # While no index runs: an object recorded, one posted only, an archive deleted.
    while_down = [await services.post(video, run, 2), await services.post(video, run, 3)]
    await services.storage.record(1)
    assert services.api.delete(f"/videos/{deleted}/").status_code == 204

    async with following(services) as followed:
        index = followed.index
        await until(lambda: has(index, video, [first, *while_down]))
        assert await held(index, deleted) == []
        after = await services.post(video, run, 4)
        await until(lambda: has(index, video, [first, *while_down, after]))
