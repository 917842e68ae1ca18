"""Acknowledging a matched event that waits for it: the storage service, the one writer of the
events, records it (vidar_storage.acknowledgements) and answers once it has, so the event read
after shows it. The gateway answers the rest (unknown, acknowledged already, never asked) itself."""

from fastapi import Request
from faststream.nats import NatsBroker
from pymongo.asynchronous.database import AsyncDatabase

from vidar import subjects
from vidar.models.acknowledgements import Acknowledgement, AcknowledgeReply, AcknowledgeRequest
from vidar.models.stream_settings import DetectorType
from vidar_gateway.auth import TOKENS, digest
from vidar_gateway.errors import ApiError, not_found

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
    """Recorded by the storage service, or an ApiError saying why not."""
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
