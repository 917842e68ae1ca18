"""Request-reply between the gateway and storage, the one writer of an archive's source pointer.

The gateway streams an upload's bytes to object storage itself (no second hop), holding the
archive's upload lock, then asks storage to commit the new file (`storage.source.commit`) or to
remove the source (`storage.source.remove`). Storage answers once the change has committed.
"""

from enum import StrEnum

from pydantic import BaseModel, Field


class SourceChange(StrEnum):
    """What storage did with a request: changed the source, or why not."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"  # a removal from an archive that has no source file
    GONE = "gone"  # the archive was deleted
    PROCESSING = "processing"  # a run uses the source (queued or in progress)
    SUPERSEDED = "superseded"  # the request's lock expired and another upload took the archive


class SourceCommitRequest(BaseModel):
    """Request-reply on `storage.source.commit`: point the archive at the uploaded object
    `object_key` and announce `video.uploaded`, while upload `upload_id` still holds it."""

    video_id: int
    upload_id: str = Field(description="the upload lock that must still hold the archive")
    object_key: str
    size: int
    content_type: str
    sha256: str


class SourceRemoveRequest(BaseModel):
    """Request-reply on `storage.source.remove`: the archive has no source file any more
    (`video.file.deleted`), while lock `upload_id` still holds it."""

    video_id: int
    upload_id: str = Field(description="the upload lock that must still hold the archive")


class SourceChangeReply(BaseModel):
    outcome: SourceChange | None = None
    failure: str | None = Field(None, description="why storage could not decide; the change may or may not be made")
