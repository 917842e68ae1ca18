"""The NATS JetStream set-up every service shares: one broker factory, the stream definitions."""

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub, RetentionPolicy
from faststream.nats.message import NatsMessage
from faststream.security import SASLPlaintext

from vidar import subjects
from vidar.dead_letters import DEAD_LETTERS_STREAM, DeadLetterMiddleware, dead_letter_subject
from vidar.logs import LogContextMiddleware
from vidar.metrics import bus_middleware
from vidar.settings import VidarSettings

# Archive lifecycle, detections and their matches, for vidar's services and outside consumers alike.
# The duplicate window is how long a re-published event (same Nats-Msg-Id) is dropped.
EVENTS_STREAM = JStream(
    "VIDAR_EVENTS",
    subjects=["video.>", "detection.>", subjects.MATCHES, *subjects.JOB_REPORTS, subjects.JOB_STOPS],
    duplicate_window=timedelta(minutes=10).total_seconds(),
    max_age=timedelta(days=7).total_seconds(),
)
# Jobs for the detectors: a work queue, so each job is removed once a detector acknowledges it.
JOBS_STREAM = JStream(
    "VIDAR_JOBS",
    subjects=[subjects.JOB_DISPATCH],
    retention=RetentionPolicy.WORK_QUEUE,
    duplicate_window=timedelta(minutes=10).total_seconds(),
)
# The storage service's durable consumer of `detection.>`: its ack floor is how far detections are
# recorded, where the gateway's search index starts following after a rebuild.
STORAGE_DETECTIONS = "storage-detections"


def stream_of(subject: str) -> JStream:
    return JOBS_STREAM if subject == subjects.JOB_DISPATCH else EVENTS_STREAM


# A handler that keeps failing gives up after this many deliveries (a poison message must not
# loop for ever) and the message becomes a dead letter (see vidar.dead_letters); a long one
# reports progress before ACK_WAIT runs out (see `keeping_alive`).
MAX_DELIVER = 5
ACK_WAIT = timedelta(seconds=60)


def make_broker(settings: VidarSettings, *, name: str) -> NatsBroker:
    """A broker that reconnects for ever: a NATS restart must not kill a service. Every handler
    (durable or not) runs inside `log_context` with its message's ids, and FastStream logs
    through vidar's handler rather than its own (see vidar.logs). A JetStream handler that fails
    is retried later, and on its last delivery dead-lettered (see vidar.dead_letters)."""
    broker = NatsBroker(
        settings.nats_url,
        security=_credentials(settings),
        name=f"vidar-{name}",
        middlewares=[bus_middleware(name), LogContextMiddleware],
        logger=logging.getLogger("vidar.bus"),
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
    )
    broker.add_middleware(functools.partial(DeadLetterMiddleware, broker=broker))
    return broker


def _credentials(settings: VidarSettings) -> SASLPlaintext | None:
    """The NATS user and password, unless they are in the URL (or the server wants none)."""
    if settings.nats_password is None:
        return None
    return SASLPlaintext(username=settings.nats_user, password=settings.nats_password.get_secret_value())


def is_connected(broker: NatsBroker) -> bool:
    return bool(broker.config.connection_state) and broker.config.connection_state.connection.is_connected


def durable_subscriber(
    broker: NatsBroker,
    subject: str,
    *,
    durable: str,
    description: str,
    stream: JStream = EVENTS_STREAM,
    ack_wait: timedelta = ACK_WAIT,
    max_deliver: int = MAX_DELIVER,
    at_once: int = 1,
) -> Callable[[Any], Any]:
    """A JetStream pull consumer shared by every replica of a service: each event is handled
    once per service, acknowledged after the handler returns, redelivered if it raises or if
    the handler goes silent for `ack_wait`, and kept as a dead letter if it still fails on the
    last of `max_deliver` deliveries. Up to `at_once` events are fetched together and handled
    concurrently, each acknowledged on its own (a handler that writes them together batches its
    calls: `vidar.batching`)."""
    # Declared so that the dead-letter stream exists wherever a consumer may write to it.
    broker.publisher(dead_letter_subject(durable), stream=DEAD_LETTERS_STREAM, include_in_schema=False)
    return broker.subscriber(
        subject,
        stream=stream,
        durable=durable,
        pull_sub=PullSub(batch_size=at_once, timeout=5),
        max_workers=at_once,
        config=ConsumerConfig(max_deliver=max_deliver, ack_wait=ack_wait.total_seconds()),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=durable,
        description=description,
    )


@contextlib.asynccontextmanager
async def keeping_alive(message: NatsMessage, ack_wait: timedelta = ACK_WAIT) -> AsyncIterator[None]:
    """Tell JetStream a long handler is still at work, so it does not redeliver meanwhile."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(ack_wait.total_seconds() / 4)
            await message.in_progress()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
