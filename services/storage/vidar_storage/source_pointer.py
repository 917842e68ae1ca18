"""Storage is the one writer of an archive's source pointer (`SourcePointer`): the file of a
fetched `url`, and at the gateway's request an uploaded file or none. Each change is one
transaction through the outbox that stages its event (`video.uploaded`, `video.file.deleted`) and
storage's own job for the files (`SourceJob`: remove the replaced one, probe the new one). Storage
does not consume its events: the job, on its own work queue, is what brings it back to the files,
and being staged with the change, it survives a crash between the commit and the work.

The gateway writes an upload's object itself while it holds the archive's upload lock, then asks
here (request-reply) to commit it, or to remove the source under the same lock. A change applies
only while that lock is still the request's and no run uses the source. The gateway releases its
lock before it works out what an unanswered request did, so a request that arrives here after the
gateway gave up changes nothing.
"""

import logging
from collections.abc import Awaitable

from faststream.nats import NatsBroker
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, documents, subjects
from vidar.bus import EVENTS_STREAM, STORAGE_JOBS_STREAM
from vidar.documents import SourcePointer, StoredSource
from vidar.health import BUSY, BUSY_VALUES
from vidar.models.events import Envelope, VideoFileDeleted, VideoUploaded
from vidar.models.source_changes import SourceChange, SourceChangeReply, SourceCommitRequest, SourceRemoveRequest
from vidar.mongo import update_returning_before
from vidar.outbox import Outbox, Transaction
from vidar.read_models import ArchiveSource, ArchiveStatus

log = logging.getLogger(__name__)


def held_by(upload_id: str) -> dict:
    """The condition for a change the gateway asks for: its lock holds the archive, and no run
    uses the source (a run may be queued while an upload streams)."""
    return {documents.UPLOAD_ID: upload_id, documents.STATUS: {"$nin": BUSY_VALUES}}


def refusal(archive_status: ArchiveStatus | None) -> SourceChange:
    """Why a change the gateway asked for did not apply to the archive, read in the same
    transaction as the change whose condition (`held_by`) matched nothing."""
    if archive_status is None:
        return SourceChange.GONE
    if archive_status.status in BUSY:
        return SourceChange.PROCESSING
    return SourceChange.SUPERSEDED  # not busy, so the lock is no longer the request's


class SourceJob(BaseModel):
    """What storage does with the files once archive `video_id`'s source pointer changed: remove
    `replaced_key` (the previous source, if any) and probe `source` (the new one, if any)."""

    video_id: int
    source: StoredSource | None = None
    replaced_key: str | None = None


def uploaded(video_id: int, source: StoredSource, replaced_key: str | None) -> VideoUploaded:
    """`video.uploaded` for `source`, naming the file it replaced."""
    return VideoUploaded(
        video_id=video_id,
        object_key=source.key,
        size=source.size,
        content_type=source.content_type,
        sha256=source.sha256,
        replaced_key=replaced_key,
    )


class SourcePointers:
    def __init__(self, db: AsyncDatabase, outbox: Outbox) -> None:
        self._videos = db[archive.VIDEOS]
        self._outbox = outbox

    async def replace(self, video_id: int, source: StoredSource, only_if: dict) -> bool:
        """Point the archive at `source` if it matches `only_if`; False if it does not."""
        return await self._outbox.commit(lambda transaction: self._point_at(transaction, video_id, source, only_if))

    async def commit_upload(self, request: SourceCommitRequest) -> SourceChange:
        source = StoredSource(
            key=request.object_key, size=request.size, content_type=request.content_type, sha256=request.sha256
        )

        async def write(transaction: Transaction) -> SourceChange:
            if await self._point_at(transaction, request.video_id, source, held_by(request.upload_id)):
                return SourceChange.CHANGED
            return await self._refusal(transaction, request.video_id)

        return await self._outbox.commit(write)

    async def remove(self, request: SourceRemoveRequest) -> SourceChange:
        async def write(transaction: Transaction) -> SourceChange:
            before = await update_returning_before(
                self._videos,
                {"_id": request.video_id, **held_by(request.upload_id)},
                {"$set": SourcePointer.removed().as_set()},
                session=transaction.session,
            )
            if before is None:
                return await self._refusal(transaction, request.video_id)
            replaced_key = ArchiveSource.model_validate(before).source_key
            if replaced_key is None:
                return SourceChange.UNCHANGED
            removed = VideoFileDeleted(video_id=request.video_id, object_key=replaced_key)
            await transaction.stage(Envelope(type=subjects.VIDEO_FILE_DELETED, payload=removed))
            job = SourceJob(video_id=request.video_id, replaced_key=replaced_key)
            await transaction.stage(Envelope(type=subjects.SOURCE_JOB, payload=job))
            return SourceChange.CHANGED

        return await self._outbox.commit(write)

    async def _point_at(self, transaction: Transaction, video_id: int, source: StoredSource, only_if: dict) -> bool:
        """The one way an archive gets a new source file: the pointer, `video.uploaded`, and the
        job that probes the file and removes the one it replaced."""
        before = await update_returning_before(
            self._videos,
            {"_id": video_id, **only_if},
            {"$set": SourcePointer.replaced(source).as_set()},
            session=transaction.session,
        )
        if before is None:
            return False
        replaced_key = ArchiveSource.model_validate(before).source_key
        event = uploaded(video_id, source, replaced_key)
        await transaction.stage(Envelope(type=subjects.VIDEO_UPLOADED, payload=event))
        job = SourceJob(video_id=video_id, source=source, replaced_key=replaced_key)
        await transaction.stage(Envelope(type=subjects.SOURCE_JOB, payload=job))
        return True

    async def _refusal(self, transaction: Transaction, video_id: int) -> SourceChange:
        doc = await self._videos.find_one(
            {"_id": video_id}, projection={documents.STATUS: 1}, session=transaction.session
        )
        return refusal(ArchiveStatus.model_validate(doc) if doc else None)


def serve_source_changes(broker: NatsBroker, pointers: SourcePointers) -> None:
    """Answer the gateway's requests to change an archive's source, and declare their events."""

    @broker.subscriber(
        subjects.SOURCE_COMMIT_REQUEST,
        queue="storage",
        title="storage-source-commit",
        description="point an archive at its uploaded file",
    )
    async def commit_upload(request: SourceCommitRequest) -> SourceChangeReply:
        return await _answer(pointers.commit_upload(request), request.video_id)

    @broker.subscriber(
        subjects.SOURCE_REMOVE_REQUEST,
        queue="storage",
        title="storage-source-remove",
        description="remove an archive's source file",
    )
    async def remove(request: SourceRemoveRequest) -> SourceChangeReply:
        return await _answer(pointers.remove(request), request.video_id)

    announced: list[tuple[str, type[BaseModel]]] = [
        (subjects.VIDEO_UPLOADED, Envelope[VideoUploaded]),
        (subjects.VIDEO_FILE_DELETED, Envelope[VideoFileDeleted]),
    ]
    for subject, schema in announced:
        broker.publisher(subject, stream=EVENTS_STREAM, schema=schema, title=subject)
    broker.publisher(subjects.SOURCE_JOB, stream=STORAGE_JOBS_STREAM, schema=Envelope[SourceJob], title="storage-job")


async def _answer(change: Awaitable[SourceChange], video_id: int) -> SourceChangeReply:
    # The gateway waits for a reply: a failure is one too, never silence until its timeout.
    try:
        return SourceChangeReply(outcome=await change)
    except Exception as error:
        log.exception("the source of video %d could not be changed", video_id)
        return SourceChangeReply(failure=f"{type(error).__name__}: {error}")
