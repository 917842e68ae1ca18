"""video.created / updated / deleted on NATS JetStream: documented payloads, once each, never lost."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from pymongo.database import Database

from tests.stack import Gateway
from vidar.models.events import Envelope, VideoChanged, VideoDeleted

PAYLOADS = {"video.created": VideoChanged, "video.updated": VideoChanged, "video.deleted": VideoDeleted}


@pytest.fixture
async def video_events(gw: Gateway) -> AsyncIterator[asyncio.Queue]:
    """Every video.* message published from now on, as seen by an outside consumer."""
    connection = await nats.connect(gw.env["VIDAR_NATS_URL"])
    received: asyncio.Queue = asyncio.Queue()
    subscription = await connection.jetstream().subscribe(
        "video.>", config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW), cb=received.put
    )
    yield received
    await subscription.unsubscribe()
    await connection.close()


async def drain(received: asyncio.Queue, *, quiet: float = 1.5) -> list:
    messages = []
    while True:
        try:
            messages.append(await asyncio.wait_for(received.get(), quiet))
        except TimeoutError:
            return messages


def video_id_of(message) -> int:
    payload = json.loads(message.data)["payload"]
    return payload["video"]["id"] if "video" in payload else payload["video_id"]


async def test_each_change_is_published_once_with_its_envelope(gw: Gateway, video_events: asyncio.Queue) -> None:
    async with httpx.AsyncClient(base_url=gw.url, headers={"Authorization": f"Token {gw.admin_token}"}) as api:
        video = (await api.post("/videos/", json={"camera_group": 1, "name": "events"})).json()
        await api.patch(f"/videos/{video['id']}/", json={"name": "events, renamed"})
        await api.delete(f"/videos/{video['id']}/")

    mine = [
        message
        for message in await drain(video_events)
        if message.subject in PAYLOADS and video_id_of(message) == video["id"]
    ]
    assert [message.subject for message in mine] == ["video.created", "video.updated", "video.deleted"]
    for message in mine:
        event = Envelope[PAYLOADS[message.subject]].model_validate_json(message.data)
        assert event.type == message.subject
        assert event.version == 1
        assert message.headers["Nats-Msg-Id"] == event.event_id
        assert abs(event.occurred_at - datetime.now(UTC)) < timedelta(minutes=1)
    created, updated, deleted = (json.loads(message.data)["payload"] for message in mine)
    assert created["video"] == video
    assert updated["video"]["name"] == "events, renamed"
    assert deleted == {"video_id": video["id"], "camera_group": 1}


async def test_an_event_left_in_the_outbox_by_a_crash_is_published_later(
    gw: Gateway, db: Database, video_events: asyncio.Queue
) -> None:
    # The state a gateway leaves when it dies between the commit and the publish.
    event = Envelope(type="video.deleted", payload=VideoDeleted(video_id=987001, camera_group=1))
    entry = {
        "_id": event.event_id,
        "subject": event.type,
        "body": event.model_dump_json(),
        "staged_at": datetime.now(UTC),
    }
    db.outbox.insert_one(entry)
    (message,) = [m for m in await drain(video_events, quiet=3) if m.subject in PAYLOADS and video_id_of(m) == 987001]
    assert message.headers["Nats-Msg-Id"] == event.event_id
    assert db.outbox.find_one({"_id": event.event_id}) is None

    db.outbox.insert_one(entry)  # a relay racing the first publish: JetStream drops the copy
    assert [m for m in await drain(video_events, quiet=3) if m.subject in PAYLOADS and video_id_of(m) == 987001] == []
    assert db.outbox.find_one({"_id": event.event_id}) is None
