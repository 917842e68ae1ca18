"""Delivery: each match published on `match.<kind>` is posted to every active webhook whose
filters it passes, by one gateway replica: they share one durable JetStream pull consumer
(`gateway-webhooks`), as they share the matching's (vidar_gateway.records.matching).

A delivery is a POST of `MatchDelivery` as JSON, signed with the webhook's secret:
`X-Vidar-Signature: sha256=<hex HMAC-SHA256 of the body>`; `X-Vidar-Delivery` names it, the same
on every try, so that a receiver can drop a copy. A connection error, a timeout or an answer other
than 2xx is tried again after an exponential back-off, `webhook_attempts` tries in all; the URL
passes the SSRF guard again before each (its host may resolve elsewhere now), and one it refuses is
not tried again. A delivery that runs out of tries is logged and recorded on its webhook
(`last_error`, `last_error_date`).

Each match is delivered in a task of its own, its webhooks at once, so a slow or failing receiver
holds up neither the others nor the following matches; at most `IN_FLIGHT` matches are delivered
at a time. A match is acknowledged once each of its deliveries has succeeded or been recorded as
failed: a replica that stops meanwhile leaves it to another, which delivers it again (at least
once).
"""

import asyncio
import contextlib
import functools
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator

import httpx
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential

from vidar import subjects
from vidar.bus import ensure_consumer, pull_batches
from vidar.models.detection_events import ObjectType
from vidar.models.events import Envelope
from vidar.models.matches import DetectionMatched
from vidar.models.webhooks import MatchDelivery
from vidar.urlguard import Allowlist, UrlRefused, check
from vidar_gateway.records.webhooks.settings import WebhookSettings
from vidar_gateway.records.webhooks.store import WebhookStore

log = logging.getLogger(__name__)

DURABLE = "gateway-webhooks"
SIGNATURE_HEADER = "X-Vidar-Signature"
DELIVERY_HEADER = "X-Vidar-Delivery"
# Matches delivered at once by one replica, and how many it asks for at a time.
IN_FLIGHT = 64
BATCH = 16
# Seconds before an unacknowledged match goes to another replica: longer than its every try.
ACK_WAIT = 15 * 60.0
# Seconds before a consumer that could not be reached is tried again.
RETRY = 1.0
PLURALS = {object_type.kind: object_type for object_type in ObjectType}


def signature(secret: str, body: bytes) -> str:
    """What `X-Vidar-Signature` carries: a receiver computes it again with the secret and compares."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class ReceiverRefused(Exception):
    """The receiver answered other than 2xx."""


class Deliveries:
    def __init__(
        self, webhooks: WebhookStore, stream: JetStreamContext, settings: WebhookSettings, *, durable: str = DURABLE
    ) -> None:
        self._webhooks = webhooks
        self._stream = stream
        self._settings = settings
        self._allowlist = Allowlist.parse(settings.url_allowlist)
        self._durable = durable
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._tasks: set[asyncio.Task] = set()

    async def run(self) -> None:
        """Make the consumer if missing, then deliver matches for ever; a failure starts again."""
        async with httpx.AsyncClient(timeout=self._settings.webhook_timeout, follow_redirects=False) as client:
            try:
                while True:
                    try:
                        await ensure_consumer(self._stream, self._consumer_config())
                        await pull_batches(
                            self._stream, self._durable, functools.partial(self._start, client), batch=BATCH
                        )
                    except Exception:
                        log.exception("webhook deliveries stopped; starting again")
                        await asyncio.sleep(RETRY)
            finally:
                # Stopping: the matches under way go back to the consumer (their tasks nak them).
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _start(self, client: httpx.AsyncClient, messages: list[Msg]) -> None:
        """Each match's deliveries in a task of its own, once one of the `IN_FLIGHT` slots is free."""
        for message in messages:
            await self._slots.acquire()
            task = asyncio.create_task(self._deliver_match(client, message))
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("a match's deliveries failed; it goes to a replica again", exc_info=error)

    async def _deliver_match(self, client: httpx.AsyncClient, message: Msg) -> None:
        try:
            match = Envelope[DetectionMatched].model_validate_json(message.data).payload
        except ValidationError:
            log.exception("event on %s is not a match; not delivered", message.subject)
            await message.term()
            return
        try:
            webhooks = await self._webhooks.for_match(match.kind, match.matched_lists)
            await asyncio.gather(*(self._deliver(client, webhook, match) for webhook in webhooks))
        except BaseException:
            with contextlib.suppress(Exception):
                await message.nak(delay=RETRY)
            raise
        await message.ack()

    async def _deliver(self, client: httpx.AsyncClient, webhook: dict, match: DetectionMatched) -> None:
        """One webhook's delivery with its every try; one that fails is recorded, not raised."""
        event_url = f"{self._settings.public_url or ''}/events/{PLURALS[match.kind]}/{match.event_id}/"
        body = MatchDelivery(webhook=webhook["_id"], match=match, event_url=event_url).model_dump_json().encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(webhook["secret"], body),
            DELIVERY_HEADER: f"{match.message_id}-{webhook['_id']}",
        }
        tries = AsyncRetrying(
            retry=retry_if_not_exception_type(UrlRefused),
            stop=stop_after_attempt(self._settings.webhook_attempts),
            wait=wait_exponential(multiplier=self._settings.webhook_backoff, max=self._settings.webhook_max_backoff),
            reraise=True,
        )
        try:
            async for attempt in tries:
                with attempt:
                    await check(webhook["url"], self._allowlist)
                    response = await client.post(webhook["url"], content=body, headers=headers)
                    if not response.is_success:
                        raise ReceiverRefused(f"{webhook['url']} answered {response.status_code}")
        except (UrlRefused, ReceiverRefused, httpx.HTTPError) as error:
            reason = str(error) or type(error).__name__
            log.warning("webhook %d: match %s not delivered: %s", webhook["_id"], match.message_id, reason)
            await self._webhooks.failed(webhook["_id"], reason)
            return
        await self._webhooks.delivered(webhook["_id"])

    def _consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self._durable,
            description="the gateways' deliveries of matches to the webhooks",
            filter_subject=subjects.MATCHES,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT,
        )


@contextlib.asynccontextmanager
async def delivering(deliveries: Deliveries) -> AsyncIterator[None]:
    """Deliveries in the background while the gateway serves; stopped before its NATS connection closes."""
    task = asyncio.create_task(deliveries.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
