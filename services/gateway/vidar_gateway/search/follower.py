"""The embedded index follows the events that change the stored records, instead of polling them.

Each gateway replica has its own ordered JetStream consumer (ephemeral, so every replica sees
every event) on the three subjects that change what the index must hold, applied one at a time
in stream order:

- `detection.<kind>`: a posted object, with its embedding. The storage service records it if its
  run is the archive's current run when it comes; the index adds it under the same condition
  (`EmbeddedIndex.add`), read from MongoDB when the run is not the one it last saw.
- `video.processing.queued`: a new run is the archive's current run (the scheduler sets it and
  stages the event in one transaction); the storage service then drops the older runs' records.
- `video.deleted`: the archive is gone (the same for the gateway's own delete); its records follow.
  For these two the index reads the archive's current run and drops what it holds of another
  (`EmbeddedIndex.recheck`), so an event that comes late or twice changes nothing.

Why it is consistent (the index ends up holding exactly the records of each archive's current run):

1. Start. First P, the storage service's ack floor on `detection.>` (every detection event up to
   P has been recorded or refused); then the rebuild reads each archive's current run and that
   run's records; then the consumer starts at P + 1. A detection event up to P is in the rebuild
   if it was recorded and its run is still current, and rightly absent otherwise (runs only move
   forward, so a refused one never becomes current again). Every later detection event is
   replayed: among them those of a run queued after the rebuild read the runs (whose records it
   skips), since the storage service can record those only once the run is queued, after P was
   read. A run change or deletion is committed before its event is published (the outbox):
   committed before the rebuild read it, it is in the rebuild; after, its event is published
   after P was read, so it comes. Whatever overlaps is applied again harmlessly: an event id
   already held is skipped, a recheck reads the current state.
2. Following. The index and the storage service judge a posted object by the same rule at
   different moments; they can differ only if the archive's run changed or it was deleted in
   between. If the index added it and the change came after, the change's event is published
   after that and its recheck drops the old run's vectors. If the index refused it, its run was
   no longer current, and the storage service drops that run's records (or never kept them).
   The index's cached current run is the one read last; a change since then has its event yet to
   come (its recheck would have refreshed the cache), so adding on a cache hit is safe as well.
3. Interruptions. nats-py's ordered consumer notices missed heartbeats (a NATS restart, a lost
   consumer) and makes the consumer again from the stream sequence after the last one received;
   the stream keeps its messages across a restart (file storage, seven days). An event that cannot
   be applied (MongoDB away) is retried before the next, never skipped. A gateway restart is a
   start again (1).

A hit is read back from `detections` with the request's filters, so a vector whose record is not
stored (yet, or at all: a record the storage service gave up on) is never shown.
"""

import asyncio
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from vidar import subjects
from vidar.bus import EVENTS_STREAM
from vidar.models.events import Envelope, VideoDeleted
from vidar.models.jobs import DetectionPosted, VideoProcessing
from vidar_gateway.search.index import EmbeddedIndex

log = logging.getLogger(__name__)

RUN_QUEUED = subjects.video_processing("queued")
FOLLOWED = [subjects.DETECTIONS, RUN_QUEUED, subjects.VIDEO_DELETED]
# The storage service's durable consumer of `detection.>` (vidar_storage.app).
STORAGE_DETECTIONS = "storage-detections"
# Seconds between the server's heartbeats; two missed and the consumer is made again.
HEARTBEAT = 2.0
# Seconds before a failed start or a failed event is tried again.
RETRY = 1.0


class IndexFollower:
    def __init__(self, index: EmbeddedIndex, connection: Client, stored_by: str = STORAGE_DETECTIONS) -> None:
        self._index = index
        self._connection = connection
        self._stored_by = stored_by
        self._subscription: JetStreamContext.PushSubscription | None = None
        self._next_sequence = 1

    async def follow(self) -> None:
        """Rebuild the index and subscribe, tried until both succeed; the subscription then keeps itself."""
        while self._subscription is None:
            try:
                await self._start()
            except Exception:
                log.exception("the vector index could not be built; trying again")
                await asyncio.sleep(RETRY)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()

    async def _start(self) -> None:
        stream = self._connection.jetstream()
        start = await _stored_through(stream, self._stored_by) + 1
        await self._index.rebuild()
        config = ConsumerConfig(
            filter_subjects=FOLLOWED, deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start
        )
        self._next_sequence = start
        self._subscription = await stream.subscribe(
            subjects.DETECTIONS,
            stream=EVENTS_STREAM.name,
            cb=self._heard,
            config=config,
            ordered_consumer=True,
            idle_heartbeat=HEARTBEAT,
        )

    async def _heard(self, message: Msg) -> None:
        sequence = message.metadata.sequence.stream
        # A consumer made again before its first message starts from the stream's first.
        if sequence < self._next_sequence:
            return
        while True:
            try:
                await self._apply(message)
                break
            except ValidationError:
                log.exception("event %d on %s is not what it should be; skipped", sequence, message.subject)
                break
            except Exception:
                log.exception("event %d on %s could not be applied to the vector index", sequence, message.subject)
                await asyncio.sleep(RETRY)
        self._next_sequence = sequence + 1

    async def _apply(self, message: Msg) -> None:
        if message.subject == subjects.VIDEO_DELETED:
            await self._index.recheck(Envelope[VideoDeleted].model_validate_json(message.data).payload.video_id)
        elif message.subject == RUN_QUEUED:
            await self._index.recheck(Envelope[VideoProcessing].model_validate_json(message.data).payload.video_id)
        else:
            await self._index.add(Envelope[DetectionPosted].model_validate_json(message.data).payload)


async def _stored_through(stream: JetStreamContext, consumer: str) -> int:
    """The last stream sequence up to which the storage service (its durable `consumer`) has
    handled every detection event; 0 (everything the stream holds) before it ever ran."""
    try:
        info = await stream.consumer_info(EVENTS_STREAM.name, consumer)
    except NotFoundError:
        return 0
    return info.ack_floor.stream_seq if info.ack_floor else 0
