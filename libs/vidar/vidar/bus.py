"""The NATS JetStream set-up every service shares: one broker factory, the stream definitions."""

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub, RetentionPolicy
from faststream.nats.message import NatsMessage
from faststream.security import SASLPlaintext
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from vidar import subjects
from vidar.dead_letters import DEAD_LETTERS_STREAM, DeadLetterMiddleware, dead_letter_subject
from vidar.logs import LogContextMiddleware
from vidar.metrics import bus_middleware
from vidar.settings import VidarSettings

# Archive lifecycle, detections, their matches and acknowledgements, for vidar's services and outside consumers alike.
# The duplicate window is how long a re-published event (same Nats-Msg-Id) is dropped.
EVENTS_STREAM = JStream(
    "VIDAR_EVENTS",
    subjects=[
        "video.>",
        "detection.>",
        subjects.MATCHES,
        subjects.ACKNOWLEDGEMENTS,
        *subjects.JOB_REPORTS,
        subjects.JOB_STOPS,
    ],
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
# Storage's own work queue (`subjects.SOURCE_JOB`), each job taken by one storage replica.
STORAGE_JOBS_STREAM = JStream(
    "VIDAR_STORAGE_JOBS",
    subjects=[subjects.SOURCE_JOB],
    retention=RetentionPolicy.WORK_QUEUE,
    duplicate_window=timedelta(minutes=10).total_seconds(),
)
# The storage service's durable consumer of `detection.>`: its ack floor is how far detections are
# recorded, where the gateway's search index starts following after a rebuild.
STORAGE_DETECTIONS = "storage-detections"


WORK_QUEUES = {subjects.JOB_DISPATCH: JOBS_STREAM, subjects.SOURCE_JOB: STORAGE_JOBS_STREAM}


def stream_of(subject: str) -> JStream:
    return WORK_QUEUES.get(subject, EVENTS_STREAM)


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


# Seconds a pull consumer's fetch waits for its first event before it is asked again.
FETCH_WAIT = 5.0


async def pull_batches(
    stream: JetStreamContext,
    durable: str,
    handle: Callable[[list[Msg]], Awaitable[None]],
    *,
    batch: int,
    wait: float = FETCH_WAIT,
    still_wanted: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    """Batches of up to `batch` events of a durable pull consumer on VIDAR_EVENTS, which a
    service's replicas share, each given to `handle`, which acknowledges (or naks) its events
    itself, as they are handled. Runs until `handle` raises, or until `still_wanted`, asked
    whenever `wait` seconds brought nothing, says no (the consumer is gone, say).

    A fetch brings what has come within `wait`, fewer than `batch` as often as not. When nothing
    came, nats-py raises a TimeoutError (its own, or asyncio's, depending on where its wait ran
    out) or returns an empty list: both mean no events now, not a failure."""
    subscription = await stream.pull_subscribe_bind(durable, EVENTS_STREAM.name)
    try:
        while True:
            try:
                messages = await subscription.fetch(batch, timeout=wait)
            except TimeoutError:
                messages = []
            if messages:
                await handle(messages)
            elif still_wanted is not None and not await still_wanted():
                return
    finally:
        await subscription.unsubscribe()


async def consumer_exists(stream: JetStreamContext, durable: str) -> bool:
    try:
        await stream.consumer_info(EVENTS_STREAM.name, durable)
    except NotFoundError:
        return False
    return True


async def ensure_consumer(stream: JetStreamContext, config: ConsumerConfig) -> None:
    """A durable consumer on VIDAR_EVENTS made if missing; one made meanwhile by another replica is
    kept, as it is (a replica never replaces the consumer the others are pulling from)."""
    assert config.durable_name is not None, "a consumer the replicas share is durable"
    if await consumer_exists(stream, config.durable_name):
        return
    try:
        await stream.add_consumer(EVENTS_STREAM.name, config)
    except BadRequestError:
        if not await consumer_exists(stream, config.durable_name):
            raise
