"""`pull_batches`, the loop of the gateway's shared pull consumers (matching, webhook deliveries,
the Qdrant writer): fewer events than a batch, or none, is no failure; a handler's failure ends it.
On the real NATS server (the stream the gateway declares), and on a fake subscription for the
bare TimeoutError nats-py raises when its wait runs out in asyncio rather than in its own code."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from tests.stack import Gateway
from vidar.bus import EVENTS_STREAM, consumer_exists, ensure_consumer, pull_batches


@pytest.fixture
async def connection(gw: Gateway) -> AsyncIterator[Client]:
    connected = await nats.connect(gw.env["VIDAR_NATS_URL"])
    yield connected
    await connected.close()


async def a_consumer(stream: JetStreamContext) -> tuple[str, str]:
    """A consumer of a subject of its own (no service follows it); its name and subject."""
    name = f"pull-test-{uuid.uuid4().hex[:8]}"
    subject = f"video.{name}"
    config = ConsumerConfig(
        durable_name=name,
        filter_subject=subject,
        deliver_policy=DeliverPolicy.NEW,
        ack_policy=AckPolicy.EXPLICIT,
    )
    await ensure_consumer(stream, config)
    await ensure_consumer(stream, config)  # kept as it is
    return name, subject


async def test_fewer_events_than_a_batch_are_handled_and_none_is_no_failure(connection: Client) -> None:
    stream = connection.jetstream()
    durable, subject = await a_consumer(stream)
    for number in range(3):
        await stream.publish(subject, str(number).encode(), stream=EVENTS_STREAM.name)
    handled: list[bytes] = []
    idle = 0

    async def handle(messages: list[Msg]) -> None:
        for message in messages:
            handled.append(message.data)
            await message.ack()

    async def still_wanted() -> bool:
        nonlocal idle
        idle += 1
        return idle < 2

    await pull_batches(stream, durable, handle, batch=64, wait=0.5, still_wanted=still_wanted)
    assert handled == [b"0", b"1", b"2"]
    assert idle == 2  # asked each time nothing came, and its no ended the loop
    info = await stream.consumer_info(EVENTS_STREAM.name, durable)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
    await stream.delete_consumer(EVENTS_STREAM.name, durable)
    assert not await consumer_exists(stream, durable)


async def test_a_handlers_failure_ends_the_loop_and_its_events_come_again(connection: Client) -> None:
    stream = connection.jetstream()
    durable, subject = await a_consumer(stream)
    await stream.publish(subject, b"poison", stream=EVENTS_STREAM.name)

    async def fail(messages: list[Msg]) -> None:
        await asyncio.gather(*(message.nak() for message in messages))
        raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError, match="the handler failed"):
        await pull_batches(stream, durable, fail, batch=16, wait=2)
    again: list[Msg] = []

    async def take(messages: list[Msg]) -> None:
        again.extend(messages)
        await asyncio.gather(*(message.ack() for message in messages))

    await pull_batches(stream, durable, take, batch=16, wait=0.5, still_wanted=lambda: _no())
    assert [(message.data, message.metadata.num_delivered) for message in again] == [(b"poison", 2)]
    await stream.delete_consumer(EVENTS_STREAM.name, durable)


async def _no() -> bool:
    return False


@dataclass
class FakeSubscription:
    """Answers each fetch with the next of `answers`: an exception is raised, a list returned."""

    answers: list[Any]
    fetched: list[int] = field(default_factory=list)
    unsubscribed: bool = False

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:  # noqa: ASYNC109 (nats-py's signature)
        self.fetched.append(batch)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def unsubscribe(self) -> None:
        self.unsubscribed = True


@dataclass
class FakeStream:
    subscription: FakeSubscription

    async def pull_subscribe_bind(self, durable: str, stream: str) -> FakeSubscription:
        return self.subscription


async def test_a_bare_timeout_or_an_empty_fetch_is_no_more_events() -> None:
    event = Msg(_client=cast(Client, None), subject="detection.face", data=b"{}")
    subscription = FakeSubscription([TimeoutError(), nats.errors.TimeoutError(), [], [event], TimeoutError()])
    batches: list[list[Msg]] = []
    idle = 0

    async def handle(messages: list[Msg]) -> None:
        batches.append(messages)

    async def still_wanted() -> bool:
        nonlocal idle
        idle += 1
        return idle < 4

    stream = cast(JetStreamContext, FakeStream(subscription))
    await pull_batches(stream, "gateway-matching", handle, batch=64, wait=5, still_wanted=still_wanted)
    assert batches == [[event]]
    assert (idle, subscription.fetched, subscription.unsubscribed) == (4, [64] * 5, True)
