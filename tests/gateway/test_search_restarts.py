"""The gateway's vector index across restarts, on servers of this module alone (it stops them):
NATS restarted under a running gateway (and under an index that has had no event yet), and the
gateway itself restarted while objects were posted. The detector, scheduler and storage service
are played here, as in test_search_follow; a search through the API finds an object by its own
vector only if the index holds it."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import nats
import numpy as np
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from pymongo import AsyncMongoClient, MongoClient
from pymongo.database import Database

from tests.gateway.test_search_follow import Storage, has, running, until
from tests.gateway.test_search_follow import face as followed_face
from tests.polling import eventually
from tests.stack import MONGO_ACCOUNT, Servers, ServiceProcess, controllable_servers, service
from vidar import subjects
from vidar.bus import EVENTS_STREAM
from vidar.devstack.servers import HOST
from vidar.documents import DetectionRecord
from vidar.models.events import Envelope
from vidar.models.jobs import DetectionPosted
from vidar_gateway.search.follower import FOLLOWED, IndexFollower
from vidar_gateway.search.index import EmbeddedIndex

TOKEN = "test-admin-token"
RNG = np.random.default_rng(5)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Servers, ServiceProcess]]:
    data_dir = tmp_path_factory.mktemp("search-restarts")
    with (
        controllable_servers(data_dir) as servers,
        service("vidar-gateway", servers.ports, data_dir, admin_token=TOKEN, outbox_relay_interval="0.5") as gateway,
    ):
        yield servers, gateway


@pytest.fixture
def db(own_stack: tuple[Servers, ServiceProcess]) -> Iterator[Database]:
    with MongoClient(HOST, own_stack[0].ports.mongo, tz_aware=True, **MONGO_ACCOUNT) as client:
        yield client["vidar"]


def api(gateway: ServiceProcess) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Token {TOKEN}"}, timeout=30)


def processed_archive(gateway: ServiceProcess, db: Database) -> tuple[int, str]:
    """An archive and its run, as the scheduler queues it."""
    with api(gateway) as client:
        video_id = client.post("/videos/", json={"camera_group": 1, "name": "restarts"}).json()["id"]
    run_id = uuid.uuid4().hex
    db.videos.update_one({"_id": video_id}, {"$set": {"current_run": run_id}})
    return video_id, run_id


def face(video_id: int, run_id: str, track: int) -> DetectionPosted:
    """A face as a detector posts it, in camera group 1."""
    return followed_face(video_id, 1, run_id, track)


def post_and_record(gateway: ServiceProcess, db: Database, video_id: int, run_id: str, track: int) -> str:
    """A face posted, and recorded as the storage service does; its event id."""
    detection = face(video_id, run_id, track)
    asyncio.run(publish(gateway.env["VIDAR_NATS_URL"], detection))
    db.detections.insert_one(DetectionRecord(**detection.model_dump(), created_date=datetime.now(UTC)).document())
    return detection.event_id


async def publish(nats_url: str, detection: DetectionPosted) -> int:
    """Its stream sequence."""
    connection = await nats.connect(nats_url)
    try:
        subject = subjects.detection(detection.kind)
        body = Envelope(type=subject, payload=detection, event_id=detection.event_id).model_dump_json().encode()
        headers = {"Nats-Msg-Id": detection.event_id}
        return (await connection.jetstream().publish(subject, body, stream=EVENTS_STREAM.name, headers=headers)).seq
    finally:
        await connection.close()


def searchable(gateway: ServiceProcess, event_id: str, timeout: float = 30) -> None:
    """Waits until a search by the event's own vector finds it (the index holds it)."""

    def found() -> bool:
        with api(gateway) as client:
            response = client.get("/events/faces/", params={"looks_like": f"faceevent:{event_id}", "threshold": 0.99})
        assert response.status_code == 200, response.text
        return event_id in {row["id"] for row in response.json()["results"]}

    eventually(found, timeout=timeout, what=f"the index to hold {event_id}")


def test_the_index_follows_again_after_nats_restarts(own_stack: tuple[Servers, ServiceProcess], db: Database) -> None:
    servers, gateway = own_stack
    video_id, run_id = processed_archive(gateway, db)
    searchable(gateway, post_and_record(gateway, db, video_id, run_id, 1))
    servers.stop("nats")
    servers.start("nats")
    # The gateway's consumer was in NATS's memory: two missed heartbeats and it is made again.
    searchable(gateway, post_and_record(gateway, db, video_id, run_id, 2))


def test_a_restarted_gateway_rebuilds_and_then_follows(own_stack: tuple[Servers, ServiceProcess], db: Database) -> None:
    _, gateway = own_stack
    video_id, run_id = processed_archive(gateway, db)
    before = post_and_record(gateway, db, video_id, run_id, 1)
    searchable(gateway, before)
    gateway.stop()
    while_down = post_and_record(gateway, db, video_id, run_id, 2)
    gateway.start()
    searchable(gateway, before)
    searchable(gateway, while_down)
    searchable(gateway, post_and_record(gateway, db, video_id, run_id, 3))


async def following_consumers(connection: Client) -> int:
    """How many consumers of the stream are those of an index (gateways' and tests')."""
    consumers = await connection.jetstream().consumers_info(EVENTS_STREAM.name)
    return sum(consumer.config.filter_subjects == FOLLOWED for consumer in consumers)


async def more_following_consumers(connection: Client, than: int) -> bool:
    return await following_consumers(connection) > than


class Applying(IndexFollower):
    """The follower, noting the stream sequence of each event it applies."""

    applied: list[int]

    async def _apply_retrying(self, message: Msg) -> None:
        self.applied.append(message.metadata.sequence.stream)
        await super()._apply_retrying(message)


async def test_a_consumer_lost_before_its_first_event_starts_again_from_the_index_position(
    own_stack: tuple[Servers, ServiceProcess], db: Database
) -> None:
    servers, gateway = own_stack
    nats_url, mongo_url = gateway.env["VIDAR_NATS_URL"], gateway.env["VIDAR_MONGO_URL"]
    video_id, run_id = processed_archive(gateway, db)
    history = [await publish(nats_url, face(video_id, run_id, track)) for track in range(20)]
    connection = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.5)
    storage = Storage(connection, mongo_url)
    await storage.create()  # the index starts after the history
    client = AsyncMongoClient(mongo_url)
    index = EmbeddedIndex(client["vidar"])
    follower = Applying(index, connection, stored_by=storage.name)
    follower.applied = []
    followers = await following_consumers(connection)
    async with running(follower):
        await until(lambda: more_following_consumers(connection, than=followers))
        servers.stop("nats")  # once its consumer is there, and before it has received any event
        servers.start("nats")
        after = face(video_id, run_id, 100)
        sequence = await publish(nats_url, after)
        await until(lambda: has(index, video_id, [after]))
    assert follower.applied == [sequence], f"nothing replayed from the history, up to {max(history)}"
    await storage.remove()
    await connection.close()
    await client.close()
