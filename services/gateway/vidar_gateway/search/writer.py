"""The gateway replicas write Qdrant together: each event once, whichever replica takes it.

They share one durable JetStream pull consumer (`gateway-search-index`) of the subjects the
embedded index follows (vidar_gateway.search.follower): `detection.<kind>` writes the object's
point if its run is its archive's current run, `video.processing.queued` and `video.deleted`
drop the archive's points of any other run. An event is acknowledged once applied; one that fails
is redelivered (no delivery limit: an event skipped would be a point missing or left behind).
A point's id is its event id's (a UUID5), so an event applied twice, redelivered or replayed by a
backfill, writes the same point again.

Why it is consistent (Qdrant ends up holding exactly the points of each archive's current run):
the replicas apply events in any order, at the same time, so unlike the embedded follower this
cannot rest on the stream's order. It rests on each write being checked after it is made:
`QdrantIndex.add` reads the archive's run before writing (a replaced run's late post is not
written) and again after; a run change or deletion committed before that second read is seen
by it, and the archive's points of other runs go; one committed after it has its event published
after the point was written (the outbox), so that event's recheck, which reads the run as it is
then, removes the point. Runs only move forward, so nothing dropped ever had to stay. A backfill
writes, then reads every archive's run again, for the same reason.

Start. Before the consumer exists (the first start on Qdrant, or NATS lost it) or while Qdrant's
collections are not marked as filled (a new or emptied Qdrant), a replica backfills them from
`detections` as the embedded index rebuilds (the records of each archive's current run): first
P, the storage service's ack floor on `detection.>`, then the backfill, then the collections are
marked, then the consumer is made to start at P + 1, so every event the backfill may have missed
comes (follower.py's argument 1). Several replicas starting together may each backfill: the same
points are written again, and the consumer is only made if missing, so the first made stays, and
it starts after its own backfill's P. The cost is the backfill's work done more than once, at a
first start, not a point more. An existing consumer is kept when only Qdrant was emptied: its
events not yet recorded by the storage service when the backfill read `detections` and already
acknowledged by the consumer are then missing; remove the consumer too to be exact (see README).
"""

import asyncio
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from pydantic import ValidationError

from vidar.bus import STORAGE_DETECTIONS, consumer_exists, ensure_consumer, pull_batches
from vidar_gateway.search.follower import FOLLOWED, RETRY, apply, stored_through
from vidar_gateway.search.qdrant import QdrantIndex

log = logging.getLogger(__name__)

DURABLE = "gateway-search-index"
# Events a replica takes at once.
BATCH = 64
# Seconds before an unacknowledged event goes to another replica (an event takes milliseconds).
ACK_WAIT = 60.0


class IndexWriter:
    def __init__(
        self,
        index: QdrantIndex,
        connection: Client,
        *,
        durable: str = DURABLE,
        stored_by: str = STORAGE_DETECTIONS,
    ) -> None:
        self._index = index
        self._connection = connection
        self._durable = durable
        self._stored_by = stored_by
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Prepare Qdrant and the consumer, then apply events for ever; a failure starts again."""
        while True:
            try:
                await self._prepare()
                self.ready.set()
                # Until the consumer is gone (removed: made again, with a backfill).
                await pull_batches(
                    self._stream, self._durable, self._apply_all, batch=BATCH, still_wanted=self._consumer_exists
                )
            except Exception:
                log.exception("the Qdrant index stopped applying events; starting again")
                await asyncio.sleep(RETRY)

    async def _prepare(self) -> None:
        await self._index.ensure_collections()
        if await self._consumer_exists() and await self._index.is_backfilled():
            return
        start = await stored_through(self._stream, self._stored_by) + 1
        await self._index.backfill()
        await self._index.mark_backfilled()
        await self._create_consumer(start)

    async def _apply_all(self, messages: list[Msg]) -> None:
        for position, message in enumerate(messages):
            try:
                await self._apply_or_return(message)
            except Exception:
                # The batch's others back to the consumer now, not after ACK_WAIT.
                await asyncio.gather(*(later.nak() for later in messages[position + 1 :]))
                raise

    async def _apply_or_return(self, message: Msg) -> None:
        try:
            await apply(self._index, message)
        except ValidationError:
            log.exception("event on %s is not what it should be; skipped", message.subject)
        except Exception:
            await message.nak(delay=RETRY)  # to any replica, once Qdrant or MongoDB answers again
            raise
        await message.ack()

    @property
    def _stream(self) -> JetStreamContext:
        return self._connection.jetstream()

    async def _consumer_exists(self) -> bool:
        return await consumer_exists(self._stream, self._durable)

    async def _create_consumer(self, start: int) -> None:
        """Made if missing: one made meanwhile by another replica is kept (it starts after its own backfill)."""
        config = ConsumerConfig(
            durable_name=self._durable,
            description="the gateways' writes to the Qdrant search index",
            filter_subjects=FOLLOWED,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT,
        )
        await ensure_consumer(self._stream, config)
