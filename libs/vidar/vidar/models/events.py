"""Every bus event: one envelope, one payload model per event type.

The subjects and payloads are a public, versioned API for outside consumers; a breaking change
of a payload bumps `version`.
"""

from datetime import UTC, datetime
from typing import Generic, TypeVar
from uuid import uuid4

from pydantic import BaseModel, Field

from vidar.models.video import Video

PayloadT = TypeVar("PayloadT", bound=BaseModel)


def _now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel, Generic[PayloadT]):
    """`event_id` is also the `Nats-Msg-Id` header, so JetStream drops a re-published copy."""

    event_id: str = Field(default_factory=lambda: uuid4().hex)
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=_now)
    payload: PayloadT


class VideoChanged(BaseModel):
    """`video.created` and `video.updated`: the archive as the API shows it after the change."""

    video: Video


class VideoDeleted(BaseModel):
    """`video.deleted`: the archive is gone from the API; its files and detections follow."""

    video_id: int
    camera_group: int
