"""Acknowledgements kept on their events. A match with a record on a watch list that asks for
acknowledgement (`acknowledge: true`) leaves its event `acknowledged: false`, once the match is
kept (vidar_storage.matches); the gateway's `POST /events/<kind>/<id>/acknowledge/` asks this
service, the one writer of `detections`, to record `acknowledged: true` with who and when.

The field exists only on events that need an acknowledgement, so `?acknowledged=false` is an
equality a sparse index serves. A list that starts asking for acknowledgement does not reach back:
its earlier matches stay as they were; an event once asked to be acknowledged stays so, whatever
better match replaces its match later. The first acknowledgement is kept.
"""

import logging
from datetime import UTC, datetime

from faststream.nats import NatsBroker
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, subjects
from vidar.indexes import WATCH_LISTS
from vidar.models.acknowledgements import Acknowledgement, AcknowledgeReply, AcknowledgeRequest
from vidar.models.matches import DetectionMatched

log = logging.getLogger(__name__)


class Acknowledgements:
    def __init__(self, db: AsyncDatabase) -> None:
        self._records = db[archive.DETECTIONS]
        self._watch_lists = db[WATCH_LISTS]

    async def require(self, match: DetectionMatched) -> None:
        """After the match is kept: its event waits for an acknowledgement if a list asks for one."""
        asking = {"_id": {"$in": match.matched_lists}, "acknowledge": True}
        if await self._watch_lists.find_one(asking, projection={"_id": 1}) is None:
            return
        # Only on the match kept (a better one may have replaced it), and never after an acknowledgement.
        kept = {"_id": match.event_id, "matched_object": match.matched_object, "acknowledged": {"$exists": False}}
        await self._records.update_one(kept, {"$set": {"acknowledged": False}})

    async def acknowledge(self, request: AcknowledgeRequest) -> Acknowledgement:
        now = datetime.now(UTC)
        waiting = {"_id": request.event_id, "kind": request.kind, "acknowledged": False}
        recorded = {
            "acknowledged": True,
            "acknowledged_by": request.by,
            # Whole milliseconds, as BSON keeps them.
            "acknowledged_date": now.replace(microsecond=now.microsecond // 1000 * 1000),
        }
        if (await self._records.update_one(waiting, {"$set": recorded})).matched_count:
            return Acknowledgement.ACKNOWLEDGED
        found = await self._records.find_one(
            {"_id": request.event_id, "kind": request.kind}, projection={"acknowledged": 1}
        )
        if found is None:
            return Acknowledgement.GONE
        return Acknowledgement.ACKNOWLEDGED if found.get("acknowledged") else Acknowledgement.NOT_REQUIRED


def serve_acknowledgements(broker: NatsBroker, acknowledgements: Acknowledgements) -> None:
    @broker.subscriber(
        subjects.ACKNOWLEDGE_REQUEST,
        queue="storage",
        title="storage-event-acknowledge",
        description="record that a matched event was acknowledged",
    )
    async def acknowledge(request: AcknowledgeRequest) -> AcknowledgeReply:
        # The gateway waits for a reply: a failure is one too, never silence until its timeout.
        try:
            return AcknowledgeReply(outcome=await acknowledgements.acknowledge(request))
        except Exception as error:
            log.exception("the acknowledgement of event %s could not be recorded", request.event_id)
            return AcknowledgeReply(error=f"the storage service could not record it ({type(error).__name__}: {error})")
