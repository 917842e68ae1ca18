"""What the storage service does with each event and with its own jobs. Every handler is
idempotent: a redelivered event or job, or one overtaken by a newer upload, changes nothing twice.
What it finds wrong with a source (or how far a fetch has come) it announces; the scheduler shows
it (`Notice`)."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, documents, subjects
from vidar.documents import ProbeResult, StoredSource
from vidar.models.events import (
    Envelope,
    ScreenshotReply,
    ScreenshotRequest,
    VideoDeleted,
    VideoFetchFailed,
    VideoFetchProgress,
    VideoProbed,
)
from vidar.objectstore import ObjectStore
from vidar.outbox import Outbox, Transaction
from vidar.read_models import ArchiveSource
from vidar.streams import AsyncStreamReader, StreamTooLarge, first_chunk
from vidar.urlguard import Allowlist, UrlRefused
from vidar_storage import probe as video
from vidar_storage.event_counts import EventCounts
from vidar_storage.settings import StorageSettings
from vidar_storage.source_pointer import SourceJob, SourcePointers
from vidar_storage.url_source import open_download

log = logging.getLogger(__name__)

# Seconds between `video.fetch.progress` events of a fetch: each is a transaction here and a write
# in the scheduler, and a person reading the note needs no more.
PROGRESS_EVERY = 1.0


class Storage:
    def __init__(
        self,
        settings: StorageSettings,
        db: AsyncDatabase,
        objects: ObjectStore,
        outbox: Outbox,
    ) -> None:
        self._settings = settings
        self._db = db
        self._videos = db[archive.VIDEOS]
        self._objects = objects
        self._outbox = outbox
        self._allowlist = Allowlist.parse(settings.url_allowlist)
        self._pointers = SourcePointers(db, outbox)
        self._event_counts = EventCounts(db)

    async def settle_source(self, job: SourceJob) -> None:
        """Once the source pointer changed: remove the file it replaced, probe the new one."""
        new_key = job.source.key if job.source else None
        if job.replaced_key and job.replaced_key != new_key:
            await self._remove_source(job.video_id, job.replaced_key)
        if job.source:
            await self._probe_source(job.video_id, job.source)

    async def _probe_source(self, video_id: int, source: StoredSource) -> None:
        if not archive.is_source_of(source.key, video_id):
            log.warning("video %d: refused to probe the foreign key %r", video_id, source.key)
            return
        doc = await self._videos.find_one({"_id": video_id}, projection={"source": 1})
        if doc is None:
            await self._objects.remove(source.key)  # the archive is gone meanwhile
            return
        if ArchiveSource.model_validate(doc).source_key != source.key:
            return  # a newer upload replaced this one; its own job probes it
        try:
            probed, image = await asyncio.to_thread(self._probe, source.key, source.size)
        except video.NotAVideo as error:
            await self._record_probe(VideoProbed(video_id=video_id, object_key=source.key, error=str(error)))
            return
        await self._objects.put_bytes(archive.screenshot_key(video_id), image, "image/jpeg")
        await self._record_probe(
            VideoProbed(video_id=video_id, object_key=source.key, **vars(probed)),
            screenshot_key=archive.screenshot_key(video_id),
        )

    async def _remove_source(self, video_id: int, key: str) -> None:
        """Remove a source file of archive `video_id`; a key outside it (a forged event) is refused."""
        if archive.is_source_of(key, video_id):
            await self._objects.remove(key)
        else:
            log.warning("video %d: refused to remove the foreign key %r", video_id, key)

    async def archive_deleted(self, event: VideoDeleted) -> None:
        await self._objects.remove_prefix(archive.prefix(event.video_id))
        await self._db[archive.DETECTIONS].delete_many({"video_id": event.video_id})
        await self._db[archive.CLUSTERS].delete_many({"video_id": event.video_id})
        await self._event_counts.remove_archive(event.video_id)

    async def archive_changed(self, video_id: int) -> None:
        """Fetch the archive's `url` into object storage, unless it is already its source."""
        doc = await self._videos.find_one({"_id": video_id}, projection={"url": 1, "source": 1})
        url = ArchiveSource.model_validate(doc).url_to_fetch() if doc else None
        if url is None:
            return
        try:
            source = await self._fetch(video_id, url)
        except FETCH_ERRORS as error:
            failed = VideoFetchFailed(video_id=video_id, url=url, error=fetch_failure(url, error, self._settings))
            await self._announce(Envelope(type=subjects.VIDEO_FETCH_FAILED, payload=failed))
        else:
            await self._commit_fetched(video_id, source)

    async def redraw_screenshot(self, request: ScreenshotRequest) -> ScreenshotReply:
        doc = await self._videos.find_one({"_id": request.video_id}, projection={"source": 1})
        source = ArchiveSource.model_validate(doc).source if doc else None
        if not source or not archive.is_source_of(source.key, request.video_id):
            return ScreenshotReply(error="the archive has no source file")
        try:
            image = await asyncio.to_thread(self._screenshot, source.key, source.size, request.timestamp)
        except (video.NotAVideo, video.NoSuchFrame) as error:
            return ScreenshotReply(error=str(error))
        key = archive.screenshot_key(request.video_id)
        await self._objects.put_bytes(key, image, "image/jpeg")
        await self._videos.update_one({"_id": request.video_id}, {"$set": ProbeResult(screenshot_key=key).as_set()})
        return ScreenshotReply(key=key)

    def _probe(self, key: str, size: int) -> tuple[video.Probe, bytes]:
        with self._objects.reader(key, size) as file:
            return video.probe(file, self._settings.screenshot_jpeg_quality)

    def _screenshot(self, key: str, size: int, timestamp: float | None) -> bytes:
        with self._objects.reader(key, size) as file:
            return video.screenshot(file, timestamp, self._settings.screenshot_jpeg_quality)

    async def _record_probe(self, probed: VideoProbed, screenshot_key: str | None = None) -> None:
        """Write what the file is and announce it (why it is unusable, too), in one transaction."""
        fields = probe_result(probed, screenshot_key).as_set()

        async def write(transaction: Transaction) -> None:
            updated = await self._videos.update_one(
                {"_id": probed.video_id, documents.SOURCE_KEY: probed.object_key},
                {"$set": fields},
                session=transaction.session,
            )
            if updated.matched_count == 1:
                await transaction.stage(Envelope(type=subjects.VIDEO_PROBED, payload=probed))

        await self._outbox.commit(write)

    async def _announce(self, event: Envelope) -> None:
        await self._outbox.commit(lambda transaction: transaction.stage(event))

    async def _fetch(self, video_id: int, url: str) -> StoredSource:
        timeout = httpx.Timeout(self._settings.url_timeout)
        async with (
            asyncio.timeout(self._settings.url_total_timeout),
            httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
        ):
            response = await open_download(client, url, self._allowlist)
            try:
                chunks = self._reporting_progress(video_id, url, response)
                first = await first_chunk(chunks)
                if not first:
                    raise UrlRefused(f"Could not fetch {url}: the server sent an empty body.")
                limit = self._settings.max_source_bytes
                reader = AsyncStreamReader(first, chunks, asyncio.get_running_loop(), limit)
                key = archive.new_source_key(video_id)
                content_type = response.headers.get("content-type", "application/octet-stream")
                await asyncio.to_thread(self._objects.put_stream, key, reader, content_type)
            finally:
                await response.aclose()
        return StoredSource(key=key, size=reader.size, content_type=content_type, sha256=reader.sha256, url=url)

    async def _reporting_progress(self, video_id: int, url: str, response: httpx.Response) -> AsyncIterator[bytes]:
        total = int(response.headers.get("content-length") or 0) or None
        received, reported = 0, time.monotonic()
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if time.monotonic() - reported >= PROGRESS_EVERY:
                reported = time.monotonic()
                progress = VideoFetchProgress(video_id=video_id, url=url, received=received, total=total)
                await self._announce(Envelope(type=subjects.VIDEO_FETCH_PROGRESS, payload=progress))
            yield chunk

    async def _commit_fetched(self, video_id: int, source: StoredSource) -> None:
        """Point the archive at the fetched file, unless its url changed meanwhile."""
        if not await self._pointers.replace(video_id, source, only_if={"url": source.url}):
            await self._objects.remove(source.key)


FETCH_ERRORS = (UrlRefused, StreamTooLarge, httpx.HTTPError, TimeoutError)


def fetch_failure(url: str, error: Exception, settings: StorageSettings) -> str:
    """What the archive shows when fetching `url` failed with `error` (one of `FETCH_ERRORS`)."""
    if isinstance(error, UrlRefused | StreamTooLarge):
        return str(error)  # written for the user already
    if isinstance(error, httpx.TimeoutException | TimeoutError):
        limit = f"{settings.url_timeout:.0f} s silent or {settings.url_total_timeout:.0f} s in all"
        return f"Could not fetch {url}: timed out ({limit})."
    return f"Could not fetch {url}: {error}."


def probe_result(probed: VideoProbed, screenshot_key: str | None) -> ProbeResult:
    """What a probe writes: a file that cannot be processed has no figures, not even an earlier
    file's (the scheduler shows its `error`); a good one its figures and screenshot."""
    if probed.error:
        return ProbeResult.unknown()
    return ProbeResult(
        source_len=probed.source_len,
        frame_width=probed.frame_width,
        frame_height=probed.frame_height,
        fps=probed.fps,
        codec=probed.codec,
        frame_count=probed.frame_count,
        screenshot_key=screenshot_key,
    )
