"""A lease in MongoDB: at most one scheduler replica dispatches and watches heartbeats at a
time; another takes over when the holder stops renewing it."""

import socket
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

LEASES = "leases"


class Lease:
    def __init__(self, db: AsyncDatabase, name: str, ttl: timedelta) -> None:
        self._leases = db[LEASES]
        self._name = name
        self._ttl = ttl
        self.holder = f"{socket.gethostname()}-{uuid4().hex[:8]}"

    async def hold(self) -> bool:
        """Take or renew the lease; whether this replica holds it now."""
        now = datetime.now(UTC)
        mine_or_expired = {"_id": self._name, "$or": [{"holder": self.holder}, {"expires_at": {"$lt": now}}]}
        try:
            result = await self._leases.update_one(
                mine_or_expired, {"$set": {"holder": self.holder, "expires_at": now + self._ttl}}, upsert=True
            )
        except DuplicateKeyError:
            return False  # another replica holds it: the upsert collided with its document
        return result.matched_count == 1 or result.upserted_id is not None
