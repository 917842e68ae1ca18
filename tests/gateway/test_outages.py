"""A server going away: the gateway says so in /readyz, keeps what it accepted, and catches up."""

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest

from tests.polling import eventually
from tests.stack import Gateway, Servers, controllable_servers, gateway


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Servers, Gateway]]:
    """Servers of this module alone, since it stops them."""
    data_dir = tmp_path_factory.mktemp("outages")
    with controllable_servers(data_dir) as stack, gateway(stack.ports, data_dir, outbox_relay_interval="0.5") as gw:
        yield stack, gw


def readiness(gw: Gateway) -> tuple[int, dict]:
    response = httpx.get(f"{gw.url}/readyz", timeout=10)
    return response.status_code, response.json()["checks"]


async def next_created_event(nats_url: str, video_id: int) -> dict:
    connection = await nats.connect(nats_url)
    try:
        subscription = await connection.jetstream().subscribe("video.created", ordered_consumer=True)
        async with asyncio.timeout(20):
            while True:
                event = json.loads((await subscription.next_msg(timeout=20)).data)
                if event["payload"]["video"]["id"] == video_id:
                    return event
    finally:
        await connection.close()


def wait_ready(gw: Gateway, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while readiness(gw)[0] != 200:
        assert time.monotonic() < deadline, "gateway not ready again"
        time.sleep(0.2)


def test_a_change_made_while_nats_is_down_is_published_when_it_returns(own_stack) -> None:
    stack, gw = own_stack
    stack.stop("nats")
    status, checks = eventually(lambda: (r := readiness(gw))[0] == 503 and r, what="readyz to report NATS down")
    assert status == 503
    assert checks["nats"] != "ok"
    assert checks["mongodb"] == checks["s3"] == "ok"

    with gw.client() as api:
        created = api.post("/videos/", json={"camera_group": 1, "name": "made during a NATS outage"})
    assert created.status_code == 201

    stack.start("nats")
    wait_ready(gw)
    event = asyncio.run(next_created_event(gw.env["VIDAR_NATS_URL"], created.json()["id"]))
    assert event["payload"]["video"]["name"] == "made during a NATS outage"


def test_mongodb_down_is_a_503_and_nothing_half_done(own_stack, tmp_path: Path) -> None:
    stack, gw = own_stack
    stack.stop("mongo")
    try:
        eventually(lambda: readiness(gw)[1]["mongodb"] != "ok", what="readyz to report MongoDB down")
        with gw.client() as api:
            refused = api.post("/videos/", json={"camera_group": 1, "name": "refused"})
        assert refused.status_code == 503
        assert refused.json()["code"] == "UNAVAILABLE"
    finally:
        stack.start("mongo")
    wait_ready(gw)
    with gw.client() as api:
        assert api.get("/videos/", params={"name_contains": "refused"}).json()["results"] == []
        assert api.post("/videos/", json={"camera_group": 1, "name": "after"}).status_code == 201
