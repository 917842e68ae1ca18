"""`router_url`: every posted object is also POSTed to the archive's router, in the background.

The request is `POST <router_url>` with `Content-Type: application/json`:

    {"event_id": "...", "event": {...the detection.<kind> payload...},
     "thumbnail": {"content_type": "image/jpeg", "data": "<base64>"},
     "full_frame": {"content_type": "image/jpeg" | "image/png", "data": "<base64>"}}

Any 2xx answer delivers it. Connection errors, timeouts (`router_timeout_ms` per request), 429
and 5xx are retried with exponential backoff, `RETRY_ATTEMPTS` tries in all; other answers fail
at once. The address rules are those of URL sources (`vidar.urlguard`, `VIDAR_URL_ALLOWLIST`),
checked before every request. A redirect is not followed (it would skip the rules).

The job thread only enqueues (`submit`); a full queue, like a failed delivery, counts the
object as failed, so a dead or slow router never slows the video. A resumed run may deliver an
object again: receivers dedupe by `event_id`.
"""

import asyncio
import base64
import logging
import queue
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from vidar.models.jobs import DetectionPosted
from vidar.urlguard import Allowlist, UrlRefused, check
from vidar_detector.publishing import Images

log = logging.getLogger(__name__)

RETRY_ATTEMPTS = 3
# Objects waiting for the router; beyond this the router is too slow for the video and new
# objects fail at once instead of piling up in memory.
MAX_PENDING = 256
# Concurrent requests to one router.
SENDERS = 4


class RouterAnswered(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code} {response.reason_phrase}")
        self.retryable = response.status_code == 429 or response.status_code >= 500


def _retryable(error: BaseException) -> bool:
    if isinstance(error, RouterAnswered):
        return error.retryable
    return isinstance(error, httpx.TransportError)


class RouterDelivery:
    """One run's deliveries to its router. `outcomes` yields (kind, delivered) as they finish."""

    def __init__(self, url: str, *, timeout_ms: int, verify_ssl: bool, allowlist: Allowlist) -> None:
        self.url = url
        self._allowlist = allowlist
        self._client = httpx.AsyncClient(timeout=timeout_ms / 1000, verify=verify_ssl, follow_redirects=False)
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[DetectionPosted, Images]] = asyncio.Queue()
        self._pending = threading.Semaphore(MAX_PENDING)
        self._outcomes: queue.SimpleQueue[tuple[str, bool]] = queue.SimpleQueue()
        timeout = timeout_ms / 1000
        self._backoff = wait_exponential(multiplier=timeout / 4, max=timeout)
        # Long enough for one object's every try and backoff.
        self._drain_timeout = 2 * RETRY_ATTEMPTS * timeout

    def submit(self, detection: DetectionPosted, images: Images) -> None:
        """From the job thread: queue an object without waiting."""
        if not self._pending.acquire(blocking=False):
            self._outcomes.put((detection.kind, False))
            return
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (detection, images))

    def outcomes(self) -> list[tuple[str, bool]]:
        """The deliveries finished since the last call (safe from any thread)."""
        finished = []
        while not self._outcomes.empty():
            finished.append(self._outcomes.get_nowait())
        return finished

    @asynccontextmanager
    async def running(self) -> AsyncIterator["RouterDelivery"]:
        """Senders run inside the block; leaving it waits (boundedly) for the objects still
        queued, then counts the rest as failed."""
        senders = [asyncio.create_task(self._send_forever()) for _ in range(SENDERS)]
        try:
            yield self
            try:
                await asyncio.wait_for(self._queue.join(), self._drain_timeout)
            except TimeoutError:
                log.warning("router %s: %d objects not delivered in time", self.url, self._queue.qsize())
        finally:
            for sender in senders:
                sender.cancel()
            await asyncio.gather(*senders, return_exceptions=True)
            while not self._queue.empty():
                detection, _ = self._queue.get_nowait()
                self._outcomes.put((detection.kind, False))
            await self._client.aclose()

    async def _send_forever(self) -> None:
        while True:
            detection, images = await self._queue.get()
            try:
                delivered = await self._deliver(detection, images)
                self._outcomes.put((detection.kind, delivered))
            finally:
                self._pending.release()
                self._queue.task_done()

    async def _deliver(self, detection: DetectionPosted, images: Images) -> bool:
        body = _body(detection, images)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(RETRY_ATTEMPTS),
            wait=self._backoff,
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await check(self.url, self._allowlist)
                    response = await self._client.post(self.url, json=body)
                    if not response.is_success:
                        raise RouterAnswered(response)
        except (UrlRefused, RouterAnswered, httpx.HTTPError) as error:
            log.warning("router %s refused or failed %s: %s", self.url, detection.event_id, error)
            return False
        return True


def _body(detection: DetectionPosted, images: Images) -> dict:
    full_frame_type = "image/png" if images.full_frame_type == "PNG" else "image/jpeg"
    return {
        "event_id": detection.event_id,
        "event": detection.model_dump(mode="json", exclude={"embedding"}),
        "thumbnail": {"content_type": "image/jpeg", "data": base64.b64encode(images.thumbnail).decode()},
        "full_frame": {"content_type": full_frame_type, "data": base64.b64encode(images.full_frame).decode()},
    }
