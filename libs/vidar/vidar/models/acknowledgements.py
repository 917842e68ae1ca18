"""The acknowledgement of a matched event: the gateway asks (`storage.event.acknowledge`), the
storage service, which alone writes the events, records it and answers once it has."""

from enum import StrEnum

from pydantic import BaseModel, Field

from vidar.models.stream_settings import DetectorType


class AcknowledgeRequest(BaseModel):
    event_id: str
    kind: DetectorType
    by: str = Field(description="the name of the token that acknowledges")


class Acknowledgement(StrEnum):
    # Recorded now, or before (the first acknowledgement is kept).
    ACKNOWLEDGED = "acknowledged"
    # The event is not matched with a record on a list that asks for acknowledgement.
    NOT_REQUIRED = "not_required"
    GONE = "gone"


class AcknowledgeReply(BaseModel):
    outcome: Acknowledgement | None = None
    error: str | None = Field(None, description="why storage could not record it")
