"""The gateway's vector index across restarts, on servers of this module alone (it stops them):
NATS restarted under a running gateway, and the gateway itself restarted while objects were
posted. The detector, scheduler and storage service are played here, as in test_search_follow;
a search through the API finds an object by its own vector only if the index holds it."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import nats
import numpy as np
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from tests.polling import eventually
from tests.stack import Servers, ServiceProcess, controllable_servers, service
from vidar import subjects
from vidar.bus import EVENTS_STREAM
from vidar.devstack.servers import HOST
from vidar.models.events import Envelope
from vidar.models.jobs import DetectionPosted

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
    with MongoClient(HOST, own_stack[0].ports.mongo, tz_aware=True) as client:
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


def post_and_record(gateway: ServiceProcess, db: Database, video_id: int, run_id: str, track: int) -> str:
    """A face posted as a detector does, and recorded as the storage service does; its event id."""
    detection = DetectionPosted(
        video_id=video_id,
        camera_group=1,
        run_id=run_id,
        kind="face",
        track_id=str(track),
        post="best",
        bbox=(0, 0, 10, 10),
        frame=track,
        stream_time=track / 25,
        timestamp=track / 25,
        quality=0.9,
        embedding=RNG.normal(0, 0.125, 128).tolist(),
    )
    asyncio.run(publish(gateway.env["VIDAR_NATS_URL"], detection))
    db.detections.insert_one({"_id": detection.event_id, **detection.model_dump(), "created_date": datetime.now(UTC)})
    return detection.event_id


async def publish(nats_url: str, detection: DetectionPosted) -> None:
    connection = await nats.connect(nats_url)
    try:
        subject = subjects.detection(detection.kind)
        body = Envelope(type=subject, payload=detection, event_id=detection.event_id).model_dump_json().encode()
        headers = {"Nats-Msg-Id": detection.event_id}
        await connection.jetstream().publish(subject, body, stream=EVENTS_STREAM.name, headers=headers)
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
