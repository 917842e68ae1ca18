"""MongoDB access through PyMongo's asyncio API (the successor of motor).

`updated`, `update_returning_before` and `delete_returning` stand in for PyMongo's
`find_one_and_update`/`find_one_and_delete` on collections that grow with use: SecantusDB (the
embedded server) writes a `findAndModify` as `{"_id": <found>, "$and": [query]}`, a top-level
`$and` its planner cannot serve, so each one scanned every document (2.7 s at 10,000 archives).
A read and a guarded `update_one`/`delete_one` by `_id` are two index lookups on both servers.
"""

import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from vidar.command_log import COMMAND_LOG_ENV, CommandRecorder
from vidar.settings import VidarSettings

COUNTERS = "counters"
T = TypeVar("T")


def connect(settings: VidarSettings) -> AsyncMongoClient:
    """A lazy client: it connects on first use, so services start before MongoDB does. With
    VIDAR_MONGO_COMMAND_LOG set (the end-to-end tests' query-shape guard), every command's shape
    and call site is recorded there."""
    listeners = [CommandRecorder(log_dir)] if (log_dir := os.environ.get(COMMAND_LOG_ENV)) else []
    # The user and password, unless they are in the URL (or the server wants none): passed as None,
    # they would override the URL's and the client would not authenticate.
    account: dict[str, Any] = (
        {"username": settings.mongo_user, "password": settings.mongo_password.get_secret_value()}
        if settings.mongo_password is not None
        else {}
    )
    return AsyncMongoClient(
        settings.mongo_url,
        **account,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        event_listeners=listeners,
    )


async def next_id(db: AsyncDatabase, sequence: str) -> int:
    """The next integer id of `sequence`: atomic, never reused, even after deletes."""
    return (await in_transaction(db.client, lambda session: next_ids(db, sequence, 1, session)))[0]


async def next_ids(db: AsyncDatabase, sequence: str, count: int, session: AsyncClientSession) -> range:
    """The next `count` integer ids of `sequence`, taken in `session`'s transaction: a concurrent
    one taking ids too conflicts with it, and one of them is run again. Not a findAndModify: that
    scans all of `counters` on SecantusDB, which holds large documents besides the sequences."""
    await db[COUNTERS].update_one({"_id": sequence}, {"$inc": {"value": count}}, upsert=True, session=session)
    counter = await db[COUNTERS].find_one({"_id": sequence}, session=session)
    assert counter is not None, "upserted just before, in the same transaction"
    last = int(counter["value"])
    return range(last - count + 1, last + 1)


async def updated(
    collection: AsyncCollection,
    query: dict[str, Any],
    update: dict[str, Any],
    *,
    session: AsyncClientSession | None = None,
    projection: dict[str, Any] | None = None,
) -> dict | None:
    """`update` applied to the one document `query` matches (it names its `_id`), and that document
    as it is after it; None if none matched. Run it in a transaction where the document read back
    must be exactly the one this update wrote."""
    if (await collection.update_one(query, update, session=session)).matched_count == 0:
        return None
    return await collection.find_one({"_id": query["_id"]}, projection=projection, session=session)


async def update_returning_before(
    collection: AsyncCollection,
    query: dict[str, Any],
    update: dict[str, Any],
    *,
    session: AsyncClientSession | None = None,
) -> dict | None:
    """`update` applied to a document `query` matches, and that document as it was before; None if
    none matched or a concurrent write moved it out of `query` between the read and the write (the
    write re-asserts `query`, as findAndModify does)."""
    before = await collection.find_one(query, session=session)
    if before is None:
        return None
    guarded = {"_id": before["_id"], **query}
    if (await collection.update_one(guarded, update, session=session)).matched_count == 0:
        return None
    return before


async def delete_returning(
    collection: AsyncCollection, query: dict[str, Any], *, session: AsyncClientSession | None = None
) -> dict | None:
    """The document `query` matches, deleted; None if there was none."""
    doc = await collection.find_one(query, session=session)
    if doc is None:
        return None
    deleted = await collection.delete_one({"_id": doc["_id"], **query}, session=session)
    return doc if deleted.deleted_count == 1 else None


async def ping(client: AsyncMongoClient) -> None:
    await client.admin.command("ping")


async def in_transaction(client: AsyncMongoClient, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
    """Run `work` in a transaction, retried by the driver on transient errors."""
    async with client.start_session() as session:
        return await session.with_transaction(work)
