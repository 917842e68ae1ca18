"""Transactional outbox: an event is written in the same MongoDB transaction as the change it
announces, then published. A crash between commit and publish loses nothing: the relay
re-publishes what is left, and the event id (`Nats-Msg-Id`) lets JetStream drop a copy.

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
log = logging.getLogger(__name__)
Result = TypeVar("Result")


class Transaction:
    """One attempt of a `commit`: its session, and the events it staged."""

    def __init__(self, outbox: "Outbox", session: AsyncClientSession) -> None:
        self.session = session
        self.staged: list[dict] = []
        self._outbox = outbox

    async def stage(self, event: Envelope[BaseModel]) -> None:
        """Record `event` in this transaction; it is published once the transaction commits."""
        self.staged.append(await self._outbox._stage(event, self.session))


class Outbox:
    def __init__(self, db: AsyncDatabase, broker: NatsBroker) -> None:
        self._client = db.client
        self._entries = db[OUTBOX]
        self._broker = broker

    async def commit(self, work: Callable[[Transaction], Awaitable[Result]]) -> Result:
        """`work` in one MongoDB transaction (the driver runs it again on a transient error); the
        events it staged are published once it has committed. Returns what `work` returns."""
        attempts: list[Transaction] = []

        async def attempt(session: AsyncClientSession) -> Result:
            attempts.append(Transaction(self, session))
            return await work(attempts[-1])

        result = await in_transaction(self._client, attempt)
        for entry in attempts[-1].staged:
            await self._deliver(entry)
        return result

    async def _stage(self, event: Envelope[BaseModel], session: AsyncClientSession) -> dict:
        """Record `event` inside the caller's transaction; returns the entry for `_deliver`."""
        entry = {
            "_id": event.event_id,
            "subject": event.type,
            "body": event.model_dump_json(),
            "staged_at": datetime.now(UTC),
        }
        await self._entries.insert_one(entry, session=session)
        return entry

    async def _deliver(self, entry: dict) -> None:
        """Publish a committed entry now; while NATS is away the relay does it later, and the
        request that made the change does not wait for a publish timeout."""
        if is_connected(self._broker):
            await self._publish(entry)

    async def relay(self, *, older_than: timedelta) -> int:
        """Publish every entry staged before `older_than` ago; returns how many were sent."""
        cutoff = datetime.now(UTC) - older_than
        sent = 0
        async for entry in self._entries.find({"staged_at": {"$lt": cutoff}}).sort("staged_at", 1):
            if not await self._publish(entry):
                break
            sent += 1
        return sent

    async def relay_forever(self, *, interval: float = 5.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.relay(older_than=timedelta(seconds=interval))
            except Exception:
                log.exception("outbox relay failed; retrying in %.0f s", interval)

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
        await self._entries.delete_one({"_id": entry["_id"]})
        return True
