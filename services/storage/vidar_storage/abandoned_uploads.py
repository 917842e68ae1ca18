"""Unfinished source uploads whose writer is gone are aborted, so their parts do not stay in S3 for ever.

A gateway that dies mid-upload, or a storage service that dies mid-fetch, leaves its multipart
upload open. S3 servers do not close it soon by themselves: MinIO ignores the
`AbortIncompleteMultipartUpload` lifecycle rule (it drops uploads after 24 h of its own accord), and
AWS and SeaweedFS (which leaves it to a lifecycle worker's daily pass) count it in whole days. So
every storage replica sweeps the bucket now and then; two aborting the same upload is harmless.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive
from vidar.logs import log_context
from vidar.metrics import ABANDONED_UPLOADS_ABORTED
from vidar.objectstore import ObjectStore, PendingUpload
from vidar.read_models import ArchiveSource
from vidar_storage.settings import StorageSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    # An upload younger than this is left alone, whatever its archive says.
    age: timedelta
    # An upload older than this cannot belong to a URL fetch still running (fetches time out).
    fetch_lifetime: timedelta

    @classmethod
    def of(cls, settings: StorageSettings) -> "Limits":
        age = timedelta(seconds=settings.abandoned_upload_age)
        return cls(age=age, fetch_lifetime=timedelta(seconds=settings.url_total_timeout) + age)


def is_abandoned(upload: PendingUpload, video: ArchiveSource | None, now: datetime, limits: Limits) -> bool:
    """Whether nothing can complete `upload` any more: it is older than `limits.age`, and its archive
    is gone, or holds no live upload lock and waits for no URL fetch that may still be running."""
    age = now - upload.initiated
    if age < limits.age:
        return False
    if video is None:
        return True
    # A `url` that is not the source yet: a fetch of it may be running.
    fetch_pending = video.url_to_fetch() is not None
    return not (_upload_lock_held(video, now) or (fetch_pending and age < limits.fetch_lifetime))


def _upload_lock_held(video: ArchiveSource, now: datetime) -> bool:
    return video.upload is not None and now - video.upload.refreshed_at < archive.UPLOAD_LOCK_STALE


class AbandonedUploads:
    def __init__(self, db: AsyncDatabase, objects: ObjectStore, settings: StorageSettings) -> None:
        self._videos = db[archive.VIDEOS]
        self._objects = objects
        self._limits = Limits.of(settings)
        self._interval = settings.abandoned_upload_sweep_interval

    async def sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("the sweep for abandoned uploads failed; next one in %.0f s", self._interval)
            await asyncio.sleep(self._interval)

    async def sweep(self) -> None:
        # Taken first, so every age and lock below is judged younger than it is, never older.
        now = datetime.now(UTC)
        sources = {
            upload: video_id
            for upload in await self._objects.pending_uploads()
            if (video_id := archive.source_archive(upload.key)) is not None
        }
        videos = await self._archives(set(sources.values()))
        for upload, video_id in sources.items():
            if is_abandoned(upload, videos.get(video_id), now, self._limits):
                await self._abort(upload, video_id)

    async def _archives(self, video_ids: set[int]) -> dict[int, ArchiveSource]:
        if not video_ids:
            return {}
        found = self._videos.find({"_id": {"$in": sorted(video_ids)}}, projection={"upload": 1, "url": 1, "source": 1})
        return {video["_id"]: ArchiveSource.model_validate(video) async for video in found}

    async def _abort(self, upload: PendingUpload, video_id: int) -> None:
        with log_context(video_id=video_id):
            if await self._objects.abort_upload(upload):
                ABANDONED_UPLOADS_ABORTED.inc()
                log.warning(
                    "aborted the unfinished upload %s of %s, begun %s: its writer is gone",
                    upload.upload_id,
                    upload.key,
                    upload.initiated.isoformat(),
                )
