"""Matching: each posted face, body and car is compared with the records on the watch lists, and
its best match is published on `match.<kind>` (`DetectionMatched`), which the storage service
keeps on the event (vidar_storage.matches).

The gateway replicas share one durable JetStream pull consumer (`gateway-matching`) of
`detection.>`, so each posted object is matched by one replica, unlike the search index, which
every replica follows. A batch of events is matched against the record index as the records are
when it is taken: the replica reads the records' revision first and loads its index again if it
moved (vidar_gateway.records.revision), so a record whose creation has returned is matched with
every event taken after.

A batch is matched once the storage service has handled its events (its durable consumer's ack
floor on `detection.>` has passed them, as the search index reads it): the match then finds the
event's record there, instead of waiting for it (vidar_storage.matches retries such a match with
a growing delay). An alert is thus as late as the event's record, milliseconds behind its post.
An event is acknowledged once its match is published (JetStream has
stored it), or once it has none; one that fails is redelivered, to any replica, with no delivery
limit. A match's message id is derived from the event and the object
(`DetectionMatched.message_id`), so a redelivered event's match, published again, is dropped by
JetStream's duplicate window, and a copy that came later would only set the same fields again.

The consumer is made at the first start and takes the events posted from then on; events posted
before are matched when a record is made or given a new photo (retroactive matching,
vidar_gateway.records.retro).
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase

from vidar import subjects
from vidar.bus import EVENTS_STREAM, STORAGE_DETECTIONS, ensure_consumer, pull_batches
from vidar.models.events import Envelope
from vidar.models.jobs import DetectionPosted
from vidar.models.matches import DetectionMatched
from vidar.models.stream_settings import DetectorType
from vidar_gateway.records.index import Match, RecordIndex, RecordVectors, load
from vidar_gateway.records.revision import RecordsRevision
from vidar_gateway.search.follower import stored_through

log = logging.getLogger(__name__)

DURABLE = "gateway-matching"
# Events a replica takes at once (one revision read for all).
BATCH = 64
# Seconds before an unacknowledged event goes to another replica (an event takes milliseconds).
ACK_WAIT = 60.0
# Seconds before a failed event, or a consumer that could not be reached, is tried again.
RETRY = 1.0
# Seconds between two readings of the storage service's ack floor while a batch waits for it, and
# how long it waits before giving its events back (the storage service is down or far behind).
STORED_POLL = 0.1
STORED_WAIT = 20.0


def matched(
    match: Match,
    *,
    event_id: str,
    video_id: int,
    run_id: str,
    camera_group: int,
    kind: DetectorType,
    retroactive: bool = False,
) -> Envelope[DetectionMatched]:
    """The event of a match, for a posted object or a stored event."""
    payload = DetectionMatched(
        event_id=event_id,
        video_id=video_id,
        run_id=run_id,
        camera_group=camera_group,
        kind=kind,
        matched_card=match.card,
        matched_object=match.object_id,
        matched_lists=match.lists,
        confidence=match.confidence,
        retroactive=retroactive,
    )
    return Envelope(event_id=payload.message_id, type=subjects.match(kind), payload=payload)


async def publish(broker: NatsBroker, event: Envelope[DetectionMatched]) -> None:
    """Published and stored by JetStream, or an error: the caller acknowledges its event after."""
    await broker.publish(
        event.model_dump_json().encode(),
        event.type,
        headers={"Nats-Msg-Id": event.event_id, "content-type": "application/json"},
        stream=EVENTS_STREAM.name,
        timeout=5,
    )


class RecordIndexes:
    """The record index as the records are now: loaded again whenever their revision moved."""

    def __init__(
        self, db: AsyncDatabase, default_thresholds: dict[DetectorType, float], vectors: RecordVectors
    ) -> None:
        self._db = db
        self._vectors = vectors
        self._revision = RecordsRevision(db)
        self._default_thresholds = default_thresholds
        self._index: RecordIndex | None = None
        self._loading = asyncio.Lock()

    async def current(self) -> RecordIndex:
        # The revision is read before the records: a change it does not count yet is loaded anyway,
        # and its move makes the next call load again.
        revision = await self._revision.read()
        async with self._loading:
            if self._index is None or self._index.revision != revision:
                self._index = await load(self._db, self._default_thresholds, revision, self._vectors)
                log.info("record index loaded: %d objects (revision %d)", len(self._index), revision)
            return self._index


class Matcher:
    def __init__(
        self,
        indexes: RecordIndexes,
        broker: NatsBroker,
        stream: JetStreamContext,
        *,
        durable: str = DURABLE,
        stored_by: str = STORAGE_DETECTIONS,
    ) -> None:
        self._indexes = indexes
        self._broker = broker
        self._stream = stream
        self._durable = durable
        self._stored_by = stored_by
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Make the consumer if missing, then match events for ever; a failure starts again."""
        while True:
            try:
                await ensure_consumer(self._stream, self._consumer_config())
                self.ready.set()
                await pull_batches(self._stream, self._durable, self._match_all, batch=BATCH)
            except Exception:
                log.exception("matching stopped; starting again")
                await asyncio.sleep(RETRY)

    async def _match_all(self, messages: list[Msg]) -> None:
        try:
            if not await self._stored(max(message.metadata.sequence.stream for message in messages)):
                log.warning("the storage service has not recorded the events to match; taken again later")
                await asyncio.gather(*(message.nak(delay=RETRY) for message in messages))
                return
            index = await self._indexes.current()
            detections = [await _posted(message) for message in messages]
            matches = await _best_of_all(index, detections)
        except Exception:
            await asyncio.gather(*(message.nak(delay=RETRY) for message in messages))
            raise
        for position, (message, detection, match) in enumerate(zip(messages, detections, matches, strict=True)):
            if detection is None:
                continue  # terminated already
            try:
                if match is not None:
                    fields = detection.model_dump(include={"video_id", "run_id", "camera_group", "kind"})
                    await publish(self._broker, matched(match, event_id=detection.event_id, **fields))
                await message.ack()
            except Exception:
                # This one and the batch's others back to the consumer now, not after ACK_WAIT.
                await asyncio.gather(*(later.nak(delay=RETRY) for later in messages[position:]))
                raise

    async def _stored(self, sequence: int) -> bool:
        """Whether the storage service has handled every detection event up to `sequence`, within STORED_WAIT."""
        deadline = asyncio.get_running_loop().time() + STORED_WAIT
        while await stored_through(self._stream, self._stored_by) < sequence:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(STORED_POLL)
        return True

    def _consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self._durable,
            description="the gateways' matching of posted objects with the watch lists' records",
            filter_subject=subjects.DETECTIONS,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT,
        )


async def _posted(message: Msg) -> DetectionPosted | None:
    """The posted object; None (and the message terminated) when it is not one."""
    try:
        return Envelope[DetectionPosted].model_validate_json(message.data).payload
    except ValidationError:
        log.exception("event on %s is not a posted object; not matched", message.subject)
        await message.term()
        return None


async def _best_of_all(index: RecordIndex, detections: list[DetectionPosted | None]) -> list[Match | None]:
    return [
        None
        if detection is None or detection.embedding is None
        else await index.best(detection.kind, detection.camera_group, detection.embedding)
        for detection in detections
    ]


@contextlib.asynccontextmanager
async def matching(matcher: Matcher) -> AsyncIterator[None]:
    """The matcher in the background while the gateway serves; stopped before its NATS connection closes."""
    task = asyncio.create_task(matcher.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
