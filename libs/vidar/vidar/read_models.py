"""Typed reads of the stored documents that services share: a service reads an archive's document
(`videos`) or a run's (`jobs`) through one of these models, never as a raw dict. Each model names
only the fields its readers need and ignores the rest, so a query projects those fields alone; a
field left out of the projection reads as a new archive's value. Who writes each field is
`vidar.documents` (the models that write them) and `vidar.field_owners` (the table the tests
enforce): reading here changes nothing there.

    status = ArchiveStatus.model_validate(await videos.find_one(..., projection={documents.STATUS: 1}))
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from vidar.health import ProcessingStatus
from vidar.models.jobs import Checkpoint, JobState


class StoredRead(BaseModel):
    """A read of a stored document: the fields it does not name are ignored, and it is not changed."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class HeldUpload(StoredRead):
    """The gateway's upload lock (`UploadLock`): which upload holds the archive's source, since when."""

    id: str
    refreshed_at: datetime


class PointedSource(StoredRead):
    """The file an archive's source pointer names (storage's `StoredSource`, as read back)."""

    key: str
    size: int
    url: str | None = None


class ArchiveSource(StoredRead):
    """An archive's source as storage sees it: the file it points at (storage's `SourcePointer`),
    the `url` it is to be fetched from and the upload that holds it (the gateway's)."""

    source: PointedSource | None = None
    url: str | None = None
    upload: HeldUpload | None = None

    @property
    def source_key(self) -> str | None:
        return self.source.key if self.source else None

    def url_to_fetch(self) -> str | None:
        """The `url`, unless there is none or it is the source's already."""
        if not self.url or (self.source and self.source.url) == self.url:
            return None
        return self.url


class HealthStatus(StoredRead):
    """The scheduler's `health_status.status`: where the archive's processing stands."""

    status: ProcessingStatus


class ArchiveStatus(StoredRead):
    """An archive's processing status (`documents.STATUS`)."""

    health_status: HealthStatus

    @property
    def status(self) -> ProcessingStatus:
        return self.health_status.status


class RunState(StoredRead):
    """What a detector reads of a run it is handed (`jobs`, the scheduler's `JobRecord`): whether it
    is over or stopping, and where to resume."""

    state: JobState
    checkpoint: Checkpoint | None = None
