"""`match.<kind>`: a posted object matched with a record (a card) on a watch list.

The gateway matches each posted face, body and car as it is posted, and again retroactively when a
record gets a new object or goes on a list; the storage service keeps the best match on the event's
document (`matched`, `matched_card`, `matched_lists`, `matched_object`, `confidence`)."""

from pydantic import BaseModel, Field

from vidar.models.stream_settings import DetectorType


class DetectionMatched(BaseModel):
    """The best match of one detection event found by one matching: a retroactive one replaces the
    event's match only when its confidence is higher."""

    event_id: str = Field(description="the detection event's id (as on /events/<kind>/)")
    video_id: int
    run_id: str
    camera_group: int
    kind: DetectorType
    matched_card: int = Field(
        description="the record matched: a human record for faces and bodies, a car record for cars"
    )
    matched_object: str = Field(description="the record's object most like the event's")
    matched_lists: list[int] = Field(description="the record's active watch lists whose threshold the match passes")
    confidence: float = Field(
        ge=0, le=1, description="how alike the event and the object are, as looks_like_confidence"
    )
    retroactive: bool = Field(False, description="found for an event stored before the object or its list")

    @property
    def message_id(self) -> str:
        """The same match published twice (a redelivered detection) is dropped by JetStream."""
        return f"match-{self.event_id}-{self.matched_object}"
