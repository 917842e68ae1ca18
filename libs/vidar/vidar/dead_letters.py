"""Dead letters: no durable consumer drops an event silently.

A handler that fails is retried with a growing delay (so a short outage of MongoDB or S3 does
not use up its deliveries). When it fails on the last delivery its consumer allows, the
message is copied, unchanged, to the stream `VIDAR_DEAD_LETTERS` as `dead.<consumer>`, with
headers saying where it came from and why it failed; it is counted in
`vidar_dead_letters_total`, logged with its event id, and then terminated, so JetStream stops
delivering it. The scheduler consumes `dead.>` and shows each one on its archive.

A handler whose process dies or hangs on every delivery never fails in the middleware: JetStream
only announces that it gave up, in a MAX_DELIVERIES advisory. The scheduler keeps those of
vidar's own consumers (in `VIDAR_ADVISORIES`) and writes the same dead letter from them
(`dead_letter_of`), so such an event is not lost either.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from faststream import BaseMiddleware
from faststream.exceptions import IgnoredException, NackMessage, RejectMessage
from faststream.message import StreamMessage
from faststream.nats import JStream, NatsBroker, RetentionPolicy
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from pydantic import BaseModel

from vidar.logs import ids_of
from vidar.metrics import DEAD_LETTERS

log = logging.getLogger(__name__)

DEAD_LETTER_SUBJECTS = "dead.>"
# Kept long enough for an operator to notice and replay; a re-sent copy (same id) is dropped.
DEAD_LETTERS_STREAM = JStream(
    "VIDAR_DEAD_LETTERS",
    subjects=[DEAD_LETTER_SUBJECTS],
    duplicate_window=timedelta(minutes=10).total_seconds(),
    max_age=timedelta(days=30).total_seconds(),
)
# JetStream's word that a consumer stopped delivering a message it never acknowledged. Advisories
# are core NATS messages: a stream keeps them while the scheduler is down.
MAX_DELIVERIES_ADVISORIES = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"
ADVISORIES_STREAM = JStream(
    "VIDAR_ADVISORIES", subjects=[MAX_DELIVERIES_ADVISORIES], max_age=timedelta(days=7).total_seconds()
)
# vidar's durable consumers (bus.durable_subscriber); an outside consumer's give-ups are its own.
OWN_CONSUMER_PREFIXES = ("detectors", "scheduler-", "storage-")
# Streams whose messages are never dead-lettered: the dead letters and advisories themselves.
UNLETTERED_STREAMS = frozenset({DEAD_LETTERS_STREAM.name, ADVISORIES_STREAM.name})
# Delay before the next delivery after the n-th failure: 1, 2, 4, 8 s with five deliveries.
FIRST_RETRY_DELAY = timedelta(seconds=1)
MAX_RETRY_DELAY = timedelta(minutes=1)
# JetStream's de-duplication id: the dead letter has its own, the original's is `Vidar-Event-Id`.
MESSAGE_ID = "Nats-Msg-Id"
# Header values are one line; a long error (a pydantic report) is cut here.
MAX_ERROR_LENGTH = 1000


def dead_letter_subject(consumer: str) -> str:
    return f"dead.{consumer}"


def retry_delay(failed_deliveries: int) -> timedelta:
    doublings = min(failed_deliveries - 1, 16)  # far past the cap, and never an overflow
    return min(FIRST_RETRY_DELAY * 2**doublings, MAX_RETRY_DELAY)


def is_last_delivery(delivered: int, max_deliver: int | None) -> bool:
    """Whether JetStream will not deliver the message again (max_deliver -1 or unset: unbounded)."""
    return max_deliver is not None and max_deliver > 0 and delivered >= max_deliver


class Header(StrEnum):
    """What a dead letter carries besides the original message's body and headers."""

    SUBJECT = "Vidar-Dead-Subject"
    CONSUMER = "Vidar-Dead-Consumer"
    STREAM = "Vidar-Dead-Stream"
    SEQUENCE = "Vidar-Dead-Sequence"
    DELIVERIES = "Vidar-Dead-Deliveries"
    ERROR = "Vidar-Dead-Error"
    EVENT_ID = "Vidar-Event-Id"


@dataclass(frozen=True)
class DeadLetter:
    subject: str
    consumer: str
    stream: str
    sequence: int
    deliveries: int
    error: str
    event_id: str | None
    body: bytes
    original_headers: dict[str, str]

    @classmethod
    def of_failure(cls, message: Msg, error: BaseException) -> "DeadLetter":
        metadata = message.metadata
        _, event_id = ids_of(message.data)
        return cls(
            subject=message.subject,
            consumer=metadata.consumer,
            stream=metadata.stream,
            sequence=metadata.sequence.stream,
            deliveries=metadata.num_delivered,
            error=one_line(f"{type(error).__name__}: {error}"),
            event_id=event_id or (message.headers or {}).get(MESSAGE_ID),
            body=message.data,
            original_headers=_own(message.headers or {}),
        )

    @classmethod
    def read(cls, headers: dict[str, str], body: bytes) -> "DeadLetter":
        """A dead letter as stored in VIDAR_DEAD_LETTERS."""
        return cls(
            subject=headers[Header.SUBJECT],
            consumer=headers[Header.CONSUMER],
            stream=headers[Header.STREAM],
            sequence=int(headers[Header.SEQUENCE]),
            deliveries=int(headers[Header.DELIVERIES]),
            error=headers[Header.ERROR],
            event_id=headers.get(Header.EVENT_ID),
            body=body,
            original_headers=_own(headers),
        )

    @property
    def message_id(self) -> str:
        """One dead letter per consumer and original message, however often it is written."""
        return f"{self.stream}-{self.sequence}-{self.consumer}"

    def headers(self) -> dict[str, str]:
        own = {
            Header.SUBJECT: self.subject,
            Header.CONSUMER: self.consumer,
            Header.STREAM: self.stream,
            Header.SEQUENCE: str(self.sequence),
            Header.DELIVERIES: str(self.deliveries),
            Header.ERROR: self.error,
            **({Header.EVENT_ID: self.event_id} if self.event_id else {}),
        }
        return {
            **self.original_headers,
            **{str(name): value for name, value in own.items()},
            MESSAGE_ID: self.message_id,
        }


class MaxDeliveries(BaseModel):
    """The fields vidar reads of JetStream's MAX_DELIVERIES advisory."""

    stream: str
    consumer: str
    stream_seq: int
    deliveries: int

    @property
    def concerns_vidar(self) -> bool:
        return self.consumer.startswith(OWN_CONSUMER_PREFIXES) and self.stream not in UNLETTERED_STREAMS


async def dead_letter_of(broker: NatsBroker, advisory: MaxDeliveries) -> None:
    """The dead letter of a message a consumer of vidar's gave up on without a handler failure.
    A work queue's message (a job) also leaves its queue, where nothing would ever remove it."""
    if not advisory.concerns_vidar:
        return
    stream = broker.connection.jetstream()
    try:
        original = await stream.get_msg(advisory.stream, advisory.stream_seq)
    except NotFoundError:
        log.error(
            "%s gave up on message %d of %s, which is gone", advisory.consumer, advisory.stream_seq, advisory.stream
        )
        return
    assert original.subject is not None, "JetStream returns a stored message with its subject"
    _, event_id = ids_of(original.data or b"")
    headers = original.headers or {}
    letter = DeadLetter(
        subject=original.subject,
        consumer=advisory.consumer,
        stream=advisory.stream,
        sequence=advisory.stream_seq,
        deliveries=advisory.deliveries,
        error="its handler's process died or hung on every delivery (JetStream gave up: MAX_DELIVERIES)",
        event_id=event_id or headers.get(MESSAGE_ID),
        body=original.data or b"",
        original_headers=_own(headers),
    )
    await write_dead_letter(broker, letter)
    info = await stream.stream_info(advisory.stream)
    if info.config.retention == RetentionPolicy.WORK_QUEUE:
        await stream.delete_msg(advisory.stream, advisory.stream_seq)


async def write_dead_letter(broker: NatsBroker, letter: DeadLetter, error: BaseException | None = None) -> None:
    subject = dead_letter_subject(letter.consumer)
    await broker.publish(letter.body, subject, headers=letter.headers(), stream=DEAD_LETTERS_STREAM.name, timeout=10)
    DEAD_LETTERS.labels(consumer=letter.consumer, subject=letter.subject).inc()
    log.error(
        "%s gave up on %s (event %s) after %d deliveries; kept as dead letter %s in %s",
        letter.consumer,
        letter.subject,
        letter.event_id,
        letter.deliveries,
        subject,
        DEAD_LETTERS_STREAM.name,
        exc_info=error,
    )


def _own(headers: dict[str, str]) -> dict[str, str]:
    """A message's headers less those a dead letter sets."""
    return {name: value for name, value in headers.items() if name != MESSAGE_ID and name not in set(Header)}


def one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_ERROR_LENGTH else flat[: MAX_ERROR_LENGTH - 1] + "…"


class DeadLetterMiddleware(BaseMiddleware):
    """Retries a failed JetStream delivery after `retry_delay`; on the consumer's last delivery,
    writes the dead letter and terminates the message. Messages of the dead-letter stream itself
    are never dead-lettered again: they stay where they are."""

    def __init__(self, msg: Any, /, *, context: Any, broker: NatsBroker) -> None:
        super().__init__(msg, context=context)
        self._broker = broker

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        try:
            return await call_next(msg)
        except IgnoredException:
            raise  # the handler's own instruction (skip, ack, nack, reject)
        except Exception as error:
            raw: Msg = msg.raw_message
            if not _is_jetstream(raw):
                raise
            delivered = raw.metadata.num_delivered
            if is_last_delivery(delivered, self._max_deliver()) and raw.metadata.stream not in UNLETTERED_STREAMS:
                await write_dead_letter(self._broker, DeadLetter.of_failure(raw, error), error)
                raise RejectMessage from error
            delay = retry_delay(delivered).total_seconds()
            log.warning(
                "delivery %d of %s failed; next one, if any, in %.0f s", delivered, raw.subject, delay, exc_info=error
            )
            raise NackMessage(delay=delay) from error

    def _max_deliver(self) -> int | None:
        subscriber = self.context.get_local("handler_")
        return getattr(getattr(subscriber, "config", None), "max_deliver", None)


def _is_jetstream(message: Any) -> bool:
    return isinstance(message, Msg) and bool(message.reply) and message.reply.startswith("$JS.ACK.")
