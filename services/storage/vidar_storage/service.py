"""What the storage service does with each event. Every handler is idempotent: a redelivered
event, or one overtaken by a newer upload, changes nothing twice."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive, subjects
from vidar.health import ProcessingStatus, display, source_problem
from vidar.models.events import (
    Envelope,
    ScreenshotReply,
    ScreenshotRequest,
    VideoDeleted,
    VideoFileDeleted,
    VideoProbed,
    VideoUploaded,
)
from vidar.objectstore import ObjectStore
from vidar.outbox import Outbox, Transaction
from vidar.streams import AsyncStreamReader, StreamTooLarge, first_chunk
from vidar.urlguard import Allowlist, UrlRefused
from vidar_storage import probe as video
from vidar_storage.settings import StorageSettings
from vidar_storage.url_source import open_download

PROGRESS_EVERY = 1.0  # seconds between progress notes while fetching a URL


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

    async def source_uploaded(self, event: VideoUploaded) -> None:
        if event.replaced_key and event.replaced_key != event.object_key:
            await self._objects.remove(event.replaced_key)
        doc = await self._videos.find_one({"_id": event.video_id}, projection={"source": 1})
        if doc is None:
            await self._objects.remove(event.object_key)  # the archive is gone meanwhile
            return
        if (doc.get("source") or {}).get("key") != event.object_key:
            return  # a newer upload replaced this one; its own event probes it
        try:
            probed, image = await asyncio.to_thread(self._probe, event.object_key, event.size)
        except video.NotAVideo as error:
            await self._record_probe(
                VideoProbed(video_id=event.video_id, object_key=event.object_key, error=str(error))
            )
            return
        await self._objects.put_bytes(archive.screenshot_key(event.video_id), image, "image/jpeg")
        await self._record_probe(
            VideoProbed(video_id=event.video_id, object_key=event.object_key, **vars(probed)),
            screenshot_key=archive.screenshot_key(event.video_id),
        )

    async def source_file_deleted(self, event: VideoFileDeleted) -> None:
        await self._objects.remove(event.object_key)

    async def archive_deleted(self, event: VideoDeleted) -> None:
        await self._objects.remove_prefix(archive.prefix(event.video_id))
        await self._db[archive.DETECTIONS].delete_many({"video_id": event.video_id})
        await self._db[archive.CLUSTERS].delete_many({"video_id": event.video_id})

    async def archive_changed(self, video_id: int) -> None:
        """Fetch the archive's `url` into object storage, unless it is already its source."""
        doc = await self._videos.find_one({"_id": video_id}, projection={"url": 1, "source": 1})
        url = doc and doc.get("url")
        if not url or (doc.get("source") or {}).get("url") == url:
            return
        try:
            source = await self._fetch(video_id, url)
        except (UrlRefused, StreamTooLarge) as error:
            await self._record_fetch_failure(video_id, url, str(error))
        except (httpx.TimeoutException, TimeoutError):
            limit = f"{self._settings.url_timeout:.0f} s silent or {self._settings.url_total_timeout:.0f} s in all"
            await self._record_fetch_failure(video_id, url, f"Could not fetch {url}: timed out ({limit}).")
        except httpx.HTTPError as error:
            await self._record_fetch_failure(video_id, url, f"Could not fetch {url}: {error}.")
        else:
            await self._commit_fetched(video_id, source)

    async def redraw_screenshot(self, request: ScreenshotRequest) -> ScreenshotReply:
        doc = await self._videos.find_one({"_id": request.video_id}, projection={"source": 1})
        source = doc and doc.get("source")
        if not source:
            return ScreenshotReply(error="the archive has no source file")
        try:
            image = await asyncio.to_thread(self._screenshot, source["key"], source["size"], request.timestamp)
        except (video.NotAVideo, video.NoSuchFrame) as error:
            return ScreenshotReply(error=str(error))
        key = archive.screenshot_key(request.video_id)
        await self._objects.put_bytes(key, image, "image/jpeg")
        await self._videos.update_one({"_id": request.video_id}, {"$set": {"screenshot_key": key}})
        return ScreenshotReply(key=key)

    def _probe(self, key: str, size: int) -> tuple[video.Probe, bytes]:
        with self._objects.reader(key, size) as file:
            return video.probe(file, self._settings.screenshot_jpeg_quality)

    def _screenshot(self, key: str, size: int, timestamp: float | None) -> bytes:
        with self._objects.reader(key, size) as file:
            return video.screenshot(file, timestamp, self._settings.screenshot_jpeg_quality)

    async def _record_probe(self, probed: VideoProbed, screenshot_key: str | None = None) -> None:
        """Write what the file is (or why it is unusable) and announce it, in one transaction."""
        status = await self._status(probed.video_id)
        if probed.error:
            fields: dict[str, Any] = {"error": probed.error, **source_problem(probed.error)}
        else:
            fields = {
                "error": None,
                "source_len": probed.source_len,
                "frame_width": probed.frame_width,
                "frame_height": probed.frame_height,
                "source.fps": probed.fps,
                "source.codec": probed.codec,
                "source.frame_count": probed.frame_count,
                "screenshot_key": screenshot_key,
                **display(status),
            }

        async def write(transaction: Transaction) -> None:
            updated = await self._videos.update_one(
                {"_id": probed.video_id, "source.key": probed.object_key},
                {"$set": fields},
                session=transaction.session,
            )
            if updated.matched_count == 1:
                await transaction.stage(Envelope(type=subjects.VIDEO_PROBED, payload=probed))

        await self._outbox.commit(write)

    async def _status(self, video_id: int) -> ProcessingStatus:
        doc = await self._videos.find_one({"_id": video_id}, projection={"health_status.status": 1})
        return ProcessingStatus(doc["health_status"]["status"]) if doc else ProcessingStatus.NOT_STARTED

    async def _fetch(self, video_id: int, url: str) -> dict:
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
        return {
            "key": key,
            "size": reader.size,
            "content_type": content_type,
            "sha256": reader.sha256,
            "url": url,
            "uploaded_at": datetime.now(UTC),
        }

    async def _reporting_progress(self, video_id: int, url: str, response: httpx.Response) -> AsyncIterator[bytes]:
        total = int(response.headers.get("content-length") or 0)
        received, reported = 0, time.monotonic()
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if time.monotonic() - reported >= PROGRESS_EVERY:
                reported = time.monotonic()
                of_total = f" of {total / 1e6:.1f}" if total else ""
                note = f"Fetching {url}: {received / 1e6:.1f}{of_total} MB"
                await self._videos.update_one({"_id": video_id}, {"$set": {"health_status.msg": note}})
            yield chunk

    async def _commit_fetched(self, video_id: int, source: dict) -> None:
        """Point the archive at the fetched file, unless its url changed meanwhile."""

        async def write(transaction: Transaction) -> bool:
            before = await self._videos.find_one_and_update(
                {"_id": video_id, "url": source["url"]},
                {"$set": {"source": source, "file_size": source["size"], "error": None, "health_status.msg": ""}},
                session=transaction.session,
            )
            if before is None:
                return False
            event = VideoUploaded(
                video_id=video_id,
                object_key=source["key"],
                size=source["size"],
                content_type=source["content_type"],
                sha256=source["sha256"],
                replaced_key=(before.get("source") or {}).get("key"),
            )
            await transaction.stage(Envelope(type=subjects.VIDEO_UPLOADED, payload=event))
            return True

        if not await self._outbox.commit(write):
            await self._objects.remove(source["key"])

    async def _record_fetch_failure(self, video_id: int, url: str, message: str) -> None:
        await self._videos.update_one(
            {"_id": video_id, "url": url}, {"$set": {"error": message, **source_problem(message)}}
        )
