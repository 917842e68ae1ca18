"""A video archive's source file: streamed uploads that replace it atomically, and its removal.

An upload holds a lock in the archive's document (`UploadLock`, refreshed while it runs, so a
gateway that dies mid-upload does not block the archive for ever) and streams its bytes straight
into a new object. Storage, the one writer of the source pointer, then commits it: asked over NATS
request-reply, it points the archive at the object and stages `video.uploaded` in one transaction
(the object it replaced is removed on that event), and answers once that has committed, so a
request right after the 201 sees the new source. A removal holds the lock the same way and asks
storage to drop the pointer.

Storage changes nothing for a request whose lock is gone, so the gateway releases its lock before
it reads what the archive points at: when storage did not answer (down, slow, or its reply lost),
that read is final. The archive points at the new object: the upload went through. It does not:
the object is removed and the answer is a 503.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from faststream.nats import NatsBroker
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, documents, subjects
from vidar.documents import UploadLock
from vidar.health import BUSY, BUSY_VALUES
from vidar.models.source_changes import SourceChange, SourceChangeReply, SourceCommitRequest, SourceRemoveRequest
from vidar.objectstore import ObjectStore
from vidar.read_models import ArchiveStatus
from vidar.streams import AsyncStreamReader, StreamTooLarge, first_chunk
from vidar_gateway.errors import ApiError, not_found

LOCK_REFRESH = timedelta(seconds=10)
# How long storage may take to answer: one transaction and the publish of its event (5 s at most).
STORAGE_ANSWER_TIMEOUT = 30.0


def _is_free(now: datetime) -> dict:
    """Not being processed, and no live upload (none, or one silent too long). A `$not` on the
    field rather than a top-level `$or`, which turns the embedded server's index planner off."""
    return {
        documents.STATUS: {"$nin": BUSY_VALUES},
        documents.UPLOAD_REFRESHED_AT: {"$not": {"$gte": now - archive.UPLOAD_LOCK_STALE}},
    }


def settled(reply: SourceChangeReply, after: dict | None, key: str | None) -> SourceChange | None:
    """What became of a change to point the archive at object `key` (None: at no file), from
    storage's `reply` and the archive as read `after` the lock was released. Without an answer the
    archive says it: storage changes nothing once the lock is gone. None: not made, cause unknown."""
    if after is None:
        return SourceChange.GONE
    if reply.outcome is not None:
        return reply.outcome
    return SourceChange.CHANGED if (after.get("source") or {}).get("key") == key else None


def being_processed(video_id: int) -> ApiError:
    return ApiError(409, f"video {video_id} is being processed; stop it first")


def refused(video_id: int, outcome: SourceChange | None, reply: SourceChangeReply, change: str) -> ApiError:
    """The answer to a `change` ("upload", "removal") that storage did not make."""
    if outcome is SourceChange.GONE:
        return not_found("video", video_id)
    if outcome is SourceChange.PROCESSING:
        return being_processed(video_id)
    if outcome is SourceChange.SUPERSEDED:
        return ApiError(409, f"video {video_id}: another upload took over; try again")
    return ApiError(
        503,
        f"video {video_id}: the storage service did not commit the {change} ({reply.failure}); "
        "the archive keeps its source file as it was, try again",
        code="UNAVAILABLE",
    )


class Sources:
    def __init__(self, db: AsyncDatabase, objects: ObjectStore, broker: NatsBroker, limit: int) -> None:
        self._videos = db[archive.VIDEOS]
        self._objects = objects
        self._broker = broker
        self.limit = limit

    async def upload(self, video_id: int, body: AsyncIterator[bytes], content_type: str) -> dict:
        upload_id = uuid4().hex
        key = archive.new_source_key(video_id)
        await self._lock(video_id, upload_id)
        try:
            async with self._refreshing(video_id, upload_id):
                reader = await self._store(key, body, content_type)
                reply = await self._ask_storage(
                    subjects.SOURCE_COMMIT_REQUEST,
                    SourceCommitRequest(
                        video_id=video_id,
                        upload_id=upload_id,
                        object_key=key,
                        size=reader.size,
                        content_type=content_type,
                        sha256=reader.sha256,
                    ),
                )
        finally:
            await self._release(video_id, upload_id)
        after = await self._videos.find_one({"_id": video_id})
        outcome = settled(reply, after, key)
        if outcome is SourceChange.CHANGED:
            assert after is not None, "an archive that is gone has not changed"
            return after
        await self._objects.remove(key)
        raise refused(video_id, outcome, reply, "upload")

    async def delete(self, video_id: int) -> None:
        upload_id = uuid4().hex
        await self._lock(video_id, upload_id)
        try:
            reply = await self._ask_storage(
                subjects.SOURCE_REMOVE_REQUEST, SourceRemoveRequest(video_id=video_id, upload_id=upload_id)
            )
        finally:
            await self._release(video_id, upload_id)
        after = await self._videos.find_one({"_id": video_id}, projection={"source": 1})
        outcome = settled(reply, after, None)
        if outcome not in (SourceChange.CHANGED, SourceChange.UNCHANGED):
            raise refused(video_id, outcome, reply, "removal")

    async def _ask_storage(self, subject: str, request: BaseModel) -> SourceChangeReply:
        try:
            response = await self._broker.request(request, subject, timeout=STORAGE_ANSWER_TIMEOUT)
        except Exception as error:  # no storage replica, no answer in time, or no bus
            return SourceChangeReply(failure=f"no answer: {type(error).__name__} {error}".strip())
        return SourceChangeReply.model_validate_json(response.body)

    async def _release(self, video_id: int, upload_id: str) -> None:
        """Once this is done storage changes nothing for the request (see the module's docstring)."""
        await self._videos.update_one(
            {"_id": video_id, documents.UPLOAD_ID: upload_id}, {"$set": UploadLock.released().as_set()}
        )

    async def _lock(self, video_id: int, upload_id: str) -> None:
        now = datetime.now(UTC)
        locked = await self._videos.update_one(
            {"_id": video_id, **_is_free(now)}, {"$set": UploadLock.held(upload_id, now).as_set()}
        )
        if locked.matched_count == 0:
            await self._explain_refusal(video_id)

    async def _explain_refusal(self, video_id: int) -> None:
        """Raise why the archive's source cannot change now (or nothing if it can)."""
        doc = await self._videos.find_one({"_id": video_id}, projection={documents.STATUS: 1, "upload": 1})
        if doc is None:
            raise not_found("video", video_id)
        if ArchiveStatus.model_validate(doc).status in BUSY:
            raise being_processed(video_id)
        if doc.get("upload") is not None:
            raise ApiError(409, f"video {video_id} is receiving another upload")

    @contextlib.asynccontextmanager
    async def _refreshing(self, video_id: int, upload_id: str) -> AsyncIterator[None]:
        async def refresh() -> None:
            while True:
                await asyncio.sleep(LOCK_REFRESH.total_seconds())
                await self._videos.update_one(
                    {"_id": video_id, documents.UPLOAD_ID: upload_id}, {"$set": UploadLock.refreshed(datetime.now(UTC))}
                )

        task = asyncio.create_task(refresh())
        try:
            yield
        finally:
            task.cancel()

    async def _store(self, key: str, body: AsyncIterator[bytes], content_type: str) -> AsyncStreamReader:
        first = await first_chunk(body)
        if not first:
            raise ApiError(400, "the request body is empty: send the video file", param="source_file")
        reader = AsyncStreamReader(first, body, asyncio.get_running_loop(), self.limit)
        try:
            await asyncio.to_thread(self._objects.put_stream, key, reader, content_type)
        except StreamTooLarge as error:
            raise ApiError(413, str(error), param="source_file") from None
        return reader
