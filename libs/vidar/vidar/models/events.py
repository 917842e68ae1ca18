"""Every bus event: one envelope, one payload model per event type.

The subjects and payloads are a public, versioned API for outside consumers; a breaking change
of a payload bumps `version`.
"""

from datetime import UTC, datetime
from typing import Generic, TypeVar
from uuid import uuid4

from pydantic import BaseModel, Field

from vidar.models.stream_settings import DetectorType
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


class VideoUploaded(BaseModel):
    """`video.uploaded`: a new source file is complete in object storage and the archive points
    at it. `replaced_key` is the previous source, to be removed."""

    video_id: int
    object_key: str
    size: int
    content_type: str
    sha256: str
    replaced_key: str | None = None


class VideoFileDeleted(BaseModel):
    """`video.file.deleted`: the archive no longer has a source file; the object is to be removed."""

    video_id: int
    object_key: str


class VideoProbed(BaseModel):
    """`video.probed`: what the source file is; `error` says why it cannot be processed."""

    video_id: int
    object_key: str
    source_len: float | None = None
    frame_width: int | None = None
    frame_height: int | None = None
    fps: float | None = None
    codec: str | None = None
    frame_count: int | None = None
    error: str | None = None


class VideoFetchFailed(BaseModel):
    """`video.fetch.failed`: the archive's `url` could not be fetched; `error` says why, for the user."""

    video_id: int
    url: str
    error: str


class VideoFetchProgress(BaseModel):
    """`video.fetch.progress`: how much of the archive's `url` is fetched so far, at most once a second."""

    video_id: int
    url: str
    received: int = Field(description="bytes received so far")
    total: int | None = Field(None, description="bytes in all, when the server said")


class ScreenshotRequest(BaseModel):
    """Request-reply on `storage.screenshot`: draw the archive's screenshot again."""

    video_id: int
    timestamp: float | None = None


class ScreenshotReply(BaseModel):
    key: str | None = None
    error: str | None = None


class MatchAcknowledged(BaseModel):
    """`acknowledgement.<kind>`: a matched event that its watch list asks to acknowledge was
    acknowledged (the first acknowledgement; the event on /events/<kind>/<event_id>/ says when)."""

    event_id: str = Field(description="the detection event's id (as on /events/<kind>/)")
    kind: DetectorType
    acknowledged_by: str = Field(description="the name of the token that acknowledged it")
