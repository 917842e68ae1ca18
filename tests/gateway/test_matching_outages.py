"""Matching through a NATS restart: the faces posted before and after it are each matched and
published once (issue 27: restarting any service or NATS loses no match and repeats none)."""

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from minio import Minio
from pymongo import MongoClient

from tests.conftest import STORAGE_SETTINGS
from tests.gateway.test_matching import Scene, a_person, matches_on_the_bus, seen_again
from tests.gateway.test_watch_lists import new_watch_list
from tests.polling import eventually
from tests.stack import MONGO_ACCOUNT, S3_ACCESS_KEY, S3_SECRET_KEY, Servers, controllable_servers, gateway, service
from vidar.bus import ACK_WAIT
from vidar.devstack.servers import HOST


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Servers, Scene]]:
    """Servers of this module alone, since it restarts NATS, with a gateway and storage on them."""
    data_dir = tmp_path_factory.mktemp("matching-outages")
    with (
        controllable_servers(data_dir) as servers,
        gateway(servers.ports, data_dir, outbox_relay_interval="0.5") as gw,
        service("vidar-storage", servers.ports, data_dir, **STORAGE_SETTINGS),
        MongoClient(HOST, servers.ports.mongo, tz_aware=True, **MONGO_ACCOUNT) as mongo,
        gw.client() as api,
    ):
        endpoint = f"{HOST}:{servers.ports.s3}"
        s3 = Minio(endpoint=endpoint, access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
        camera_group = api.post("/camera-groups/", json={"name": "nats restarts"}).json()["id"]
        yield servers, Scene(gw, api, mongo["vidar"], s3, camera_group)


def wait_ready(api: httpx.Client) -> None:
    eventually(lambda: api.get("/readyz").status_code == 200, what="the gateway ready again")


def test_faces_posted_around_a_nats_restart_are_each_matched_once(own_stack: tuple[Servers, Scene]) -> None:
    servers, scene = own_stack
    person = a_person()
    watch_list = new_watch_list(scene.api, name="nats restart")["id"]
    card, _ = scene.record(person, [watch_list])
    video_id, run_id = scene.archive()
    before = scene.post(video_id, run_id, [seen_again(person) for _ in range(20)])
    servers.stop("nats")
    servers.start("nats")
    wait_ready(scene.api)
    video_id, run_id = scene.archive()  # a second archive: its events' ids differ from the first's
    after = scene.post(video_id, run_id, [seen_again(person) for _ in range(20)])
    posted = before + after
    every_match = {"_id": {"$in": posted}, "matched": True}
    # Events storage had in hand when NATS went away come back after its ack wait.
    redelivered = ACK_WAIT.total_seconds() + 60
    eventually(lambda: scene.db.detections.count_documents(every_match) == len(posted), timeout=redelivered, what="all")
    assert [scene.matched(event_id)["matched_card"] for event_id in posted] == [card] * len(posted)
    assert sorted(asyncio.run(matches_on_the_bus(scene.gw, set(posted)))) == sorted(posted)
