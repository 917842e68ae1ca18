"""API tokens: stored as SHA-256 digests with a role; sent as `Authorization: Token <token>`.

Tokens are 256-bit random strings, so a fast digest is enough (no password stretching needed).

A gateway keeps the role of each valid token it was sent for ROLE_KEPT_S seconds, so a burst of
requests reads the token once rather than once a request (on SecantusDB, which serves one command
at a time, every read costs every service). A token revoked with `vidar-gateway token revoke` (a
process of its own) therefore stops working within ROLE_KEPT_S seconds; an unknown token is read
every time, so a new one works at once. Requests that find the role expired together wait for one
read (a burst's clients all found it expired at once, and each read it).
"""

import asyncio
import hashlib
import secrets
import time
from datetime import UTC, datetime
from enum import StrEnum

from pymongo.asynchronous.database import AsyncDatabase

TOKENS = "tokens"
ROLE_KEPT_S = 2.0


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"  # read and write
    VIEWER = "viewer"  # read only

    @property
    def can_write(self) -> bool:
        return self is not Role.VIEWER


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class TokenStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._tokens = db[TOKENS]
        self._kept: dict[str, tuple[Role, float]] = {}  # digest -> role, until when (monotonic)
        self._reading: dict[str, asyncio.Future[Role | None]] = {}  # digest -> its read in flight

    async def role_of(self, token: str) -> Role | None:
        token_digest = digest(token)
        role, until = self._kept.get(token_digest, (None, 0.0))
        if role is not None and time.monotonic() < until:
            return role
        reading = self._reading.get(token_digest)
        if reading is None:
            reading = self._reading[token_digest] = asyncio.ensure_future(self._read_role(token_digest))
            reading.add_done_callback(lambda _: self._reading.pop(token_digest, None))
        return await asyncio.shield(reading)  # a request given up on leaves the read to the others

    async def _read_role(self, token_digest: str) -> Role | None:
        doc = await self._tokens.find_one({"_id": token_digest}, projection={"role": 1})
        if doc is None:
            self._kept.pop(token_digest, None)
            return None
        self._kept[token_digest] = (Role(doc["role"]), time.monotonic() + ROLE_KEPT_S)
        return Role(doc["role"])

    async def add(self, token: str, role: Role, name: str) -> None:
        """Idempotent: adding the same token again keeps its first record."""
        await self._tokens.update_one(
            {"_id": digest(token)},
            {"$setOnInsert": {"role": role.value, "name": name, "created_date": datetime.now(UTC)}},
            upsert=True,
        )

    async def create(self, role: Role, name: str) -> str:
        token = new_token()
        await self.add(token, role, name)
        return token

    async def revoke(self, token_or_name: str) -> int:
        """Removes the token itself, or every token with that name; returns how many."""
        found = await self._tokens.delete_many({"$or": [{"_id": digest(token_or_name)}, {"name": token_or_name}]})
        self._kept.clear()
        return found.deleted_count

    async def list(self) -> list[dict]:
        return await self._tokens.find({}, projection={"_id": 0, "role": 1, "name": 1, "created_date": 1}).to_list()
