"""A lease in MongoDB: at most one scheduler replica dispatches and watches heartbeats at a
time; another takes over when the holder stops renewing it."""

import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

LEASES = "leases"
# A lease is renewed once this share of its ttl has passed: renewed every pass (each tick), it was
# a write a second that the database server, serving one command at a time, served before lists.
RENEW_AFTER = 1 / 3


class Lease:
    def __init__(
        self, db: AsyncDatabase, name: str, ttl: timedelta, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._leases = db[LEASES]
        self._name = name
        self._ttl = ttl
        self._clock = clock
        self.holder = f"{socket.gethostname()}-{uuid4().hex[:8]}"
        # When this replica last took or renewed the lease, if it holds it.
        self._held_since: datetime | None = None

    async def hold(self) -> bool:
        """Take or renew the lease; whether this replica holds it now. Renewing, taking an expired
        one and taking a new one are three guarded writes rather than one `$or`, which SecantusDB
        cannot plan (the query-shape guard of the end-to-end tests allows none)."""
        now = self._clock()
        if self._held_since is not None and now - self._held_since < self._ttl * RENEW_AFTER:
            return True
        self._held_since = now if await self._take_or_renew(now) else None
        return self._held_since is not None

    async def _take_or_renew(self, now: datetime) -> bool:
        held = {"$set": {"holder": self.holder, "expires_at": now + self._ttl}}
        for guard in ({"holder": self.holder}, {"expires_at": {"$lt": now}}):
            if (await self._leases.update_one({"_id": self._name, **guard}, held)).matched_count == 1:
                return True
        try:
            await self._leases.insert_one({"_id": self._name, **held["$set"]})
        except DuplicateKeyError:
            return False  # another replica holds it
        return True
