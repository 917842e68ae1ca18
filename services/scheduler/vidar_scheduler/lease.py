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
        """Take or renew the lease; whether this replica holds it now. Renewing, taking an expired
        one and taking a new one are three guarded writes rather than one `$or`, which SecantusDB
        cannot plan (the query-shape guard of the end-to-end tests allows none)."""
        now = datetime.now(UTC)
        held = {"$set": {"holder": self.holder, "expires_at": now + self._ttl}}
        for guard in ({"holder": self.holder}, {"expires_at": {"$lt": now}}):
            if (await self._leases.update_one({"_id": self._name, **guard}, held)).matched_count == 1:
                return True
        try:
            await self._leases.insert_one({"_id": self._name, **held["$set"]})
        except DuplicateKeyError:
            return False  # another replica holds it
        return True
