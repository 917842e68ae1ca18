"""The dead-letter middleware's decision, on in-memory messages: retry later, or keep the message
as a dead letter on the consumer's last delivery. The real stack's test is in
tests/scheduler/test_dead_letters.py."""

import asyncio
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from faststream.exceptions import NackMessage, RejectMessage, SkipMessage
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig

from vidar.dead_letters import (
    DEAD_LETTERS_STREAM,
    DeadLetter,
    DeadLetterMiddleware,
    Header,
    MaxDeliveries,
    is_last_delivery,
    retry_delay,
)

EVENT = {"event_id": "poison-1", "type": "video.created", "payload": {"video": {"id": 7}}}


@pytest.mark.parametrize(
    ("delivered", "max_deliver", "last"),
    [(1, 5, False), (4, 5, False), (5, 5, True), (6, 5, True), (1, 1, True), (9, -1, False), (9, None, False)],
)
def test_the_last_delivery_is_the_consumers_max_deliver(delivered: int, max_deliver: int | None, last: bool) -> None:
    assert is_last_delivery(delivered, max_deliver) is last


@pytest.mark.parametrize(("failed", "seconds"), [(1, 1), (2, 2), (4, 8), (10, 60), (10_000, 60)])
def test_retries_wait_longer_each_time_up_to_a_minute(failed: int, seconds: float) -> None:
    assert retry_delay(failed).total_seconds() == seconds


def delivery(number: int, stream: str = "VIDAR_EVENTS", consumer: str = "scheduler-created") -> Msg:
    """A JetStream delivery as nats-py reads it: its metadata is in the reply subject."""
    reply = f"$JS.ACK.{stream}.{consumer}.{number}.42.17.1700000000000000000.0"
    headers = {"Nats-Msg-Id": "poison-1", "content-type": "application/json"}
    return Msg(_client=None, subject="video.created", reply=reply, data=json.dumps(EVENT).encode(), headers=headers)


@dataclass
class RecordingBroker:
    published: list[dict[str, Any]] = field(default_factory=list)

    async def publish(self, body: bytes, subject: str, **options: Any) -> None:
        self.published.append({"body": body, "subject": subject, **options})


def consume_failing(raw: Msg, error: Exception, max_deliver: int | None = 5) -> tuple[Exception, list[dict]]:
    """What the middleware raises when the handler raises `error`, and what it published."""
    broker = RecordingBroker()
    subscriber = SimpleNamespace(config=ConsumerConfig(durable_name="scheduler-created", max_deliver=max_deliver))
    context = SimpleNamespace(get_local=lambda key: subscriber if key == "handler_" else None)
    middleware = DeadLetterMiddleware(raw, context=context, broker=broker)

    async def handler(_: Any) -> None:
        raise error

    with pytest.raises(Exception) as raised:  # noqa: PT011 (which one is the point of each test)
        asyncio.run(middleware.consume_scope(handler, SimpleNamespace(raw_message=raw)))
    return raised.value, broker.published


def test_a_failure_before_the_last_delivery_is_retried_later_and_not_dead_lettered() -> None:
    raised, published = consume_failing(delivery(4), ValueError("bad payload"))
    assert isinstance(raised, NackMessage)
    assert raised.extra_options == {"delay": 8.0}
    assert published == []


def test_a_failure_on_the_last_delivery_is_dead_lettered_with_where_it_came_from_and_why() -> None:
    raw, error = delivery(5), ValueError("play_speed\n  Input should be a valid number")
    raised, [letter] = consume_failing(raw, error)
    assert isinstance(raised, RejectMessage), "terminated: JetStream delivers it no more"
    assert (letter["subject"], letter["stream"], letter["body"]) == (
        "dead.scheduler-created",
        "VIDAR_DEAD_LETTERS",
        raw.data,
    )
    headers = letter["headers"]
    assert (headers[Header.SUBJECT], headers[Header.CONSUMER]) == ("video.created", "scheduler-created")
    assert (headers[Header.STREAM], headers[Header.SEQUENCE], headers[Header.DELIVERIES]) == ("VIDAR_EVENTS", "42", "5")
    assert headers[Header.ERROR] == "ValueError: play_speed Input should be a valid number"
    assert headers[Header.EVENT_ID] == "poison-1"
    assert headers["content-type"] == "application/json", "the original headers travel along"
    assert headers["Nats-Msg-Id"] == "VIDAR_EVENTS-42-scheduler-created", "one dead letter per consumer and message"
    assert DeadLetter.read(headers, letter["body"]) == DeadLetter.of_failure(raw, error)


def test_an_unbounded_consumer_retries_for_ever() -> None:
    raised, published = consume_failing(delivery(50), ValueError("bad"), max_deliver=-1)
    assert isinstance(raised, NackMessage)
    assert published == []


def test_a_dead_letter_that_cannot_be_applied_stays_where_it_is() -> None:
    raw = delivery(5, stream=DEAD_LETTERS_STREAM.name, consumer="scheduler-dead-letters")
    raised, published = consume_failing(raw, ValueError("mongo away"))
    assert isinstance(raised, NackMessage)
    assert published == [], "never a dead letter of a dead letter"


def test_the_handlers_own_instructions_pass_through() -> None:
    raised, published = consume_failing(delivery(5), SkipMessage())
    assert isinstance(raised, SkipMessage)
    assert published == []


def test_a_core_nats_request_keeps_its_error() -> None:
    request = Msg(_client=None, subject="storage.screenshot", reply="_INBOX.abc", data=b"{}")
    raised, published = consume_failing(request, ValueError("bad request"))
    assert isinstance(raised, ValueError)
    assert published == []


@pytest.mark.parametrize(
    ("stream", "consumer", "concerns_vidar"),
    [
        ("VIDAR_EVENTS", "storage-uploaded", True),
        ("VIDAR_EVENTS", "scheduler-created", True),
        ("VIDAR_JOBS", "detectors", True),
        ("VIDAR_EVENTS", "crm-sync", False),
        ("VIDAR_DEAD_LETTERS", "scheduler-dead-letters", False),
        ("VIDAR_ADVISORIES", "scheduler-max-deliveries", False),
    ],
)
def test_only_the_give_ups_of_vidars_own_consumers_become_dead_letters(
    stream: str, consumer: str, concerns_vidar: bool
) -> None:
    advisory = MaxDeliveries(stream=stream, consumer=consumer, stream_seq=3, deliveries=5)
    assert advisory.concerns_vidar is concerns_vidar
