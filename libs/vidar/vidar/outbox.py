"""Transactional outbox: an event is written in the same MongoDB transaction as the change it
announces, then published. A crash between commit and publish loses nothing: the relay
re-publishes what is left, and the event id (`Nats-Msg-Id`) lets JetStream drop a copy.

The events a transaction stages go in with one `insert_many` at its end: on SecantusDB (the
embedded server, which serves one command at a time) every command costs every service, and a
transaction of many events (a batch of creates or syncs) would otherwise pay one per event. Those
published at once leave at the relay's next pass, with one `delete_many` for every transaction
committed since (a burst of creates paid one for each few archives); the relay sends again only
entries older than its interval, and JetStream drops a copy by its `Nats-Msg-Id`.

`Outbox.commit` is the one way vidar's services change data and announce it:

    async def write(transaction: Transaction) -> bool:
        ...  # reads and writes with session=transaction.session
        await transaction.stage(Envelope(type=..., payload=...))
        return True

    changed = await outbox.commit(write)  # committed, then its events published
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from faststream.nats import NatsBroker
from pydantic import BaseModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from vidar.bus import is_connected, stream_of
from vidar.models.events import Envelope
from vidar.mongo import in_transaction

OUTBOX = "outbox"
# Entries the relay reads, publishes and deletes at a time (after an outage there may be thousands).
RELAY_BATCH = 500
log = logging.getLogger(__name__)
Result = TypeVar("Result")


class Transaction:
    """One attempt of a `commit`: its session, and the events it staged."""

    def __init__(self, session: AsyncClientSession) -> None:
        self.session = session
        self.staged: list[dict] = []

    async def stage(self, event: Envelope[BaseModel]) -> None:
        """Record `event` in this transaction; it is published once the transaction commits."""
        self.staged.append(_entry(event))


def _entry(event: Envelope[BaseModel]) -> dict:
    return {
        "_id": event.event_id,
        "subject": event.type,
        "body": event.model_dump_json(),
        "staged_at": datetime.now(UTC),
    }


class Outbox:
    def __init__(self, db: AsyncDatabase, broker: NatsBroker) -> None:
        self._client = db.client
        self._entries = db[OUTBOX]
        self._broker = broker
        self._published: list[str] = []  # published as they committed: removed at the relay's next pass

    async def commit(self, work: Callable[[Transaction], Awaitable[Result]]) -> Result:
        """`work` in one MongoDB transaction (the driver runs it again on a transient error); the
        events it staged are published once it has committed. Returns what `work` returns."""
        attempts: list[Transaction] = []

        async def attempt(session: AsyncClientSession) -> Result:
            attempts.append(Transaction(session))
            result = await work(attempts[-1])
            if attempts[-1].staged:
                await self._entries.insert_many(attempts[-1].staged, session=session)
            return result

        result = await in_transaction(self._client, attempt)
        await self._deliver(attempts[-1].staged)
        return result

    async def _deliver(self, entries: list[dict]) -> None:
        """Publish committed entries now; while NATS is away the relay does it later, and the
        request that made the change does not wait for a publish timeout."""
        if entries and is_connected(self._broker):
            self._published.extend(await self._publish_each(entries))

    async def relay(self, *, older_than: timedelta) -> int:
        """Publish every entry staged before `older_than` ago; returns how many were sent."""
        cutoff = datetime.now(UTC) - older_than
        await self._remove_published()
        sent = 0
        while True:
            oldest = self._entries.find({"staged_at": {"$lt": cutoff}}).sort("staged_at", 1)
            published = await self._publish_all(await oldest.to_list(RELAY_BATCH))
            sent += published
            if published < RELAY_BATCH:  # all sent, or the bus is away
                return sent

    async def relay_forever(self, *, interval: float = 5.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.relay(older_than=timedelta(seconds=interval))
            except Exception:
                log.exception("outbox relay failed; retrying in %.0f s", interval)

    async def _remove_published(self) -> None:
        published, self._published = self._published, []
        try:
            await self._remove(published)
        except Exception:
            self._published.extend(published)  # for the next pass
            raise

    async def _publish_all(self, entries: list[dict]) -> int:
        """Publish `entries` in order until one fails; those sent leave the outbox. Returns how many."""
        sent = await self._publish_each(entries)
        await self._remove(sent)
        return len(sent)

    async def _publish_each(self, entries: list[dict]) -> list[str]:
        """Publish `entries` in order until one fails; the ids of those sent."""
        sent: list[str] = []
        for entry in entries:
            if not await self._publish(entry):
                break
            sent.append(entry["_id"])
        return sent

    async def _remove(self, entry_ids: list[str]) -> None:
        if entry_ids:
            await self._entries.delete_many({"_id": {"$in": entry_ids}})

    async def _publish(self, entry: dict) -> bool:
        try:
            await self._broker.publish(
                entry["body"].encode(),
                entry["subject"],
                headers={"Nats-Msg-Id": entry["_id"], "content-type": "application/json"},
                stream=stream_of(entry["subject"]).name,
                timeout=5,
            )
        except Exception:
            log.warning("publishing event %s deferred: bus unavailable", entry["_id"], exc_info=True)
            return False
        return True
