"""MongoDB access through PyMongo's asyncio API (the successor of motor)."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from vidar.settings import VidarSettings

COUNTERS = "counters"
T = TypeVar("T")


def connect(settings: VidarSettings) -> AsyncMongoClient:
    """A lazy client: it connects on first use, so services start before MongoDB does."""
    return AsyncMongoClient(settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000)


async def next_id(db: AsyncDatabase, sequence: str) -> int:
    """The next integer id of `sequence`: atomic, never reused, even after deletes."""
    counter = await db[COUNTERS].find_one_and_update(
        {"_id": sequence}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    return int(counter["value"])


async def ping(client: AsyncMongoClient) -> None:
    await client.admin.command("ping")


async def in_transaction(client: AsyncMongoClient, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
    """Run `work` in a transaction, retried by the driver on transient errors."""
    async with client.start_session() as session:
        return await session.with_transaction(work)
