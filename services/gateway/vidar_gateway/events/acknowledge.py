"""Acknowledging a matched event that waits for it: the storage service, the one writer of the
events, records it (vidar_storage.acknowledgements) and answers once it has, so the event read
after shows it. The gateway answers the rest (unknown, acknowledged already, never asked) itself.
Once recorded, the gateway publishes `acknowledgement.<kind>` for outside consumers; the same event's
acknowledgement published twice (two operators at once) is dropped by JetStream. One lost between
the two (a NATS outage then) is logged, not retried: the event itself shows the acknowledgement."""

import logging

from fastapi import Request
from faststream.nats import NatsBroker
from pymongo.asynchronous.database import AsyncDatabase

from vidar import subjects
from vidar.bus import EVENTS_STREAM
from vidar.models.acknowledgements import Acknowledgement, AcknowledgeReply, AcknowledgeRequest
from vidar.models.events import Envelope, MatchAcknowledged
from vidar.models.stream_settings import DetectorType
from vidar_gateway.auth import TOKENS, digest
from vidar_gateway.errors import ApiError, not_found

log = logging.getLogger(__name__)
# Seconds the gateway waits for the storage service's answer (then a 503).
ANSWER_WITHIN = 10.0


async def token_name(db: AsyncDatabase, request: Request) -> str:
    """The name of the request's token (authenticated already, by the router's dependency)."""
    token = request.headers["authorization"].partition(" ")[2].strip()
    found = await db[TOKENS].find_one({"_id": digest(token)}, projection={"name": 1})
    if found is None:
        raise ApiError(401, "invalid or revoked token", param="Authorization")
    return found["name"]


async def acknowledge(broker: NatsBroker, kind: DetectorType, event_id: str, by: str) -> None:
    """Recorded by the storage service and published, or an ApiError saying why not."""
    request = AcknowledgeRequest(event_id=event_id, kind=kind, by=by)
    try:
        response = await broker.request(request, subjects.ACKNOWLEDGE_REQUEST, timeout=ANSWER_WITHIN)
    except Exception as error:
        raise ApiError(503, f"the storage service did not answer ({type(error).__name__}); try again") from None
    reply = AcknowledgeReply.model_validate_json(response.body)
    if reply.outcome is None:
        raise ApiError(503, reply.error or "the storage service could not record it")
    if reply.outcome is Acknowledgement.GONE:
        raise not_found(f"{kind} event", event_id)
    if reply.outcome is Acknowledgement.NOT_REQUIRED:
        raise ApiError(409, f"{kind} event {event_id} has no match that its watch list asks to acknowledge")
    await _publish(broker, MatchAcknowledged(event_id=event_id, kind=kind, acknowledged_by=by))


async def _publish(broker: NatsBroker, acknowledged: MatchAcknowledged) -> None:
    subject = subjects.acknowledgement(acknowledged.kind)
    event: Envelope[MatchAcknowledged] = Envelope(
        event_id=f"acknowledged-{acknowledged.kind}-{acknowledged.event_id}", type=subject, payload=acknowledged
    )
    try:
        await broker.publish(
            event.model_dump_json().encode(),
            subject,
            headers={"Nats-Msg-Id": event.event_id, "content-type": "application/json"},
            stream=EVENTS_STREAM.name,
            timeout=ANSWER_WITHIN,
        )
    except Exception:
        # Recorded already, and the event read after shows it: the operator's answer is that, and
        # the announcement's loss is for the logs.
        log.exception("%s event %s was acknowledged but not announced", acknowledged.kind, acknowledged.event_id)
