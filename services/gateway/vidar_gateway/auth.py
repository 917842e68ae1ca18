"""API tokens: stored as SHA-256 digests with a role; sent as `Authorization: Token <token>`.

Tokens are 256-bit random strings, so a fast digest is enough (no password stretching needed).
"""

import hashlib
import secrets
from datetime import UTC, datetime
from enum import StrEnum

from pymongo.asynchronous.database import AsyncDatabase

TOKENS = "tokens"


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

    async def role_of(self, token: str) -> Role | None:
        doc = await self._tokens.find_one({"_id": digest(token)}, projection={"role": 1})
        return Role(doc["role"]) if doc else None

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
        return found.deleted_count

    async def list(self) -> list[dict]:
        return await self._tokens.find({}, projection={"_id": 0, "role": 1, "name": 1, "created_date": 1}).to_list()
