"""A video archive's source file: streamed uploads that replace it atomically, and its removal.

An upload holds a lock in the archive's document (refreshed while it runs, so a gateway that
dies mid-upload does not block the archive for ever), writes a new object, then in one
transaction points the archive at it and stages `video.uploaded`; the storage service removes
the object it replaced.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, documents, subjects
from vidar.documents import SourcePointer, StoredSource, UploadLock, updates
from vidar.health import BUSY_VALUES
from vidar.models.events import Envelope, VideoFileDeleted, VideoUploaded
from vidar.objectstore import ObjectStore
from vidar.outbox import Outbox, Transaction
from vidar.streams import AsyncStreamReader, StreamTooLarge, first_chunk
from vidar_gateway.errors import ApiError, not_found

LOCK_REFRESH = timedelta(seconds=10)


def _is_free(now: datetime) -> dict:
    """Not being processed, and no live upload (none, or one silent too long). A `$not` on the
    field rather than a top-level `$or`, which turns the embedded server's index planner off."""
    return {
        documents.STATUS: {"$nin": BUSY_VALUES},
        documents.UPLOAD_REFRESHED_AT: {"$not": {"$gte": now - archive.UPLOAD_LOCK_STALE}},
    }


class Sources:
    def __init__(self, db: AsyncDatabase, objects: ObjectStore, outbox: Outbox, limit: int) -> None:
        self._videos = db[archive.VIDEOS]
        self._objects = objects
        self._outbox = outbox
        self.limit = limit

    async def upload(self, video_id: int, body: AsyncIterator[bytes], content_type: str) -> dict:
        upload_id = uuid4().hex
        await self._lock(video_id, upload_id)
        try:
            async with self._refreshing(video_id, upload_id):
                key = archive.new_source_key(video_id)
                reader = await self._store(key, body, content_type)
            committed = await self._commit(video_id, upload_id, key, reader, content_type)
            if committed is None:
                await self._objects.remove(key)
                raise ApiError(409, f"video {video_id}: another upload took over; try again")
            return committed
        finally:
            await self._videos.update_one(
                {"_id": video_id, documents.UPLOAD_ID: upload_id}, {"$set": UploadLock.released().as_set()}
            )

    async def delete(self, video_id: int) -> None:
        async def remove(transaction: Transaction) -> bool:
            doc = await self._videos.find_one_and_update(
                {"_id": video_id, **_is_free(datetime.now(UTC))},
                {"$set": SourcePointer.removed().as_set()},
                session=transaction.session,
            )
            if doc is None or doc.get("source") is None:
                return False
            event = VideoFileDeleted(video_id=video_id, object_key=doc["source"]["key"])
            await transaction.stage(Envelope(type=subjects.VIDEO_FILE_DELETED, payload=event))
            return True

        if await self._outbox.commit(remove):
            return
        await self._explain_refusal(video_id)

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
        if doc["health_status"]["status"] in BUSY_VALUES:
            raise ApiError(409, f"video {video_id} is being processed; stop it first")
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

    async def _commit(
        self, video_id: int, upload_id: str, key: str, reader: AsyncStreamReader, content_type: str
    ) -> dict | None:
        source = StoredSource(key=key, size=reader.size, content_type=content_type, sha256=reader.sha256)
        # `error` is the scheduler's (cleared on `video.uploaded`); the lock goes with the change.
        change = updates(SourcePointer.replaced(source), UploadLock.released())

        async def point_at_new_source(transaction: Transaction) -> bool:
            before = await self._videos.find_one_and_update(
                {"_id": video_id, documents.UPLOAD_ID: upload_id},
                {"$set": change},
                session=transaction.session,
            )
            if before is None:
                return False
            replaced = (before.get("source") or {}).get("key")
            event = VideoUploaded(
                video_id=video_id,
                object_key=key,
                size=reader.size,
                content_type=content_type,
                sha256=reader.sha256,
                replaced_key=replaced,
            )
            await transaction.stage(Envelope(type=subjects.VIDEO_UPLOADED, payload=event))
            return True

        if not await self._outbox.commit(point_at_new_source):
            return None
        return await self._videos.find_one({"_id": video_id})
