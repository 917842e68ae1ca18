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
   consumer) and makes the consumer again from the stream sequence after the last one received
   (or from the stream's first if none was: then the follower subscribes again from its own
   position); the stream keeps its messages across a restart (file storage, seven days). An event
   is applied before the next, retried while it cannot be (MongoDB away), never skipped; a
   subscription that fails is made again from the event after the last applied. A gateway
   restart is a start again (1).

A hit is read back from `detections` with the request's filters, so a vector whose record is not
stored (yet, or at all: a record the storage service gave up on) is never shown.
"""

import asyncio
import logging
from typing import Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from vidar import subjects
from vidar.bus import EVENTS_STREAM, STORAGE_DETECTIONS
from vidar.models.events import Envelope, VideoDeleted
from vidar.models.jobs import DetectionPosted, VideoProcessing
from vidar_gateway.search.index import EmbeddedIndex

log = logging.getLogger(__name__)

RUN_QUEUED = subjects.video_processing("queued")
FOLLOWED = [subjects.DETECTIONS, RUN_QUEUED, subjects.VIDEO_DELETED]
# Seconds between the server's heartbeats; two missed and the consumer is made again.
HEARTBEAT = 2.0
# Seconds before a failed rebuild, subscription or event is tried again.
RETRY = 1.0


class IndexFollower:
    def __init__(self, index: EmbeddedIndex, connection: Client, stored_by: str = STORAGE_DETECTIONS) -> None:
        self._index = index
        self._connection = connection
        self._stored_by = stored_by
        self._next_sequence = 1
        self.rebuilt = asyncio.Event()

    async def run(self) -> None:
        """Rebuild the index, then apply the events as they come, for ever; a failure is tried again."""
        while not self.rebuilt.is_set():
            try:
                await self._rebuild()
            except Exception:
                log.exception("the vector index could not be built; trying again")
                await asyncio.sleep(RETRY)
        while True:
            try:
                await self._follow()
            except Exception:
                log.exception("the vector index stopped following the events; subscribing again")
                await asyncio.sleep(RETRY)

    async def _rebuild(self) -> None:
        start = await stored_through(self._connection.jetstream(), self._stored_by) + 1
        await self._index.rebuild()
        self._next_sequence = start
        self.rebuilt.set()

    async def _follow(self) -> None:
        """One subscription from the next event, until it starts before that."""
        subscription = await self._subscribe(self._next_sequence)
        try:
            while True:
                message = await subscription.next_msg(timeout=None)
                sequence = message.metadata.sequence.stream
                if sequence < self._next_sequence:
                    # nats-py made the consumer again from the last sequence it had received, and
                    # it had received none: the stream's first, so a subscription from ours instead.
                    return
                await self._apply_retrying(message)
                self._next_sequence = sequence + 1
        finally:
            await subscription.unsubscribe()

    async def _subscribe(self, start: int) -> JetStreamContext.PushSubscription:
        config = ConsumerConfig(
            filter_subjects=FOLLOWED, deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start
        )
        return await self._connection.jetstream().subscribe(
            subjects.DETECTIONS,
            stream=EVENTS_STREAM.name,
            config=config,
            ordered_consumer=True,
            idle_heartbeat=HEARTBEAT,
        )

    async def _apply_retrying(self, message: Msg) -> None:
        """Applied before the next event, whatever it takes: an event skipped would be lost."""
        while True:
            try:
                return await apply(self._index, message)
            except ValidationError:
                log.exception("event on %s is not what it should be; skipped", message.subject)
                return
            except Exception:
                log.exception("event on %s could not be applied to the vector index", message.subject)
                await asyncio.sleep(RETRY)


class FollowingIndex(Protocol):
    """What an index that follows the events does with them (EmbeddedIndex, QdrantIndex)."""

    async def add(self, detection: DetectionPosted) -> None: ...

    async def recheck(self, video_id: int) -> None: ...


async def apply(index: FollowingIndex, message: Msg) -> None:
    """One followed event: a posted object is added, a new run or a deletion rechecks its archive."""
    if message.subject == subjects.VIDEO_DELETED:
        await index.recheck(Envelope[VideoDeleted].model_validate_json(message.data).payload.video_id)
    elif message.subject == RUN_QUEUED:
        await index.recheck(Envelope[VideoProcessing].model_validate_json(message.data).payload.video_id)
    else:
        await index.add(Envelope[DetectionPosted].model_validate_json(message.data).payload)


async def stored_through(stream: JetStreamContext, consumer: str) -> int:
    """The last stream sequence up to which the storage service (its durable `consumer`) has
    handled every detection event; 0 (everything the stream holds) before it ever ran."""
    try:
        info = await stream.consumer_info(EVENTS_STREAM.name, consumer)
    except NotFoundError:
        return 0
    return info.ack_floor.stream_seq if info.ack_floor else 0
