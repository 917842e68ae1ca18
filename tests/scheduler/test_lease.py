"""The scheduler's lease, on the real MongoDB-wire server: one replica holds it, renews it once a
third of its ttl has passed (not on every pass), and another takes it once it expires."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.stack import Ports, mongo_url
from vidar_scheduler.lease import LEASES, Lease

TTL = timedelta(seconds=6)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture
def lease_db(stack: Ports, runner: asyncio.Runner) -> Iterator[AsyncDatabase]:
    """A database of this test's own: the session's scheduler holds its lease in `vidar`."""
    client: AsyncMongoClient = AsyncMongoClient(mongo_url(stack), tz_aware=True)
    yield client[f"vidar_lease_{uuid4().hex[:8]}"]
    runner.run(client.close())


def test_one_replica_holds_the_lease_and_renews_it_once_a_third_of_its_ttl_passed(
    lease_db: AsyncDatabase, runner: asyncio.Runner
) -> None:
    clock = Clock()
    first, second = Lease(lease_db, "scheduler", TTL, clock), Lease(lease_db, "scheduler", TTL, clock)

    async def expiry() -> datetime:
        stored = await lease_db[LEASES].find_one({"_id": "scheduler"})
        assert stored is not None
        return stored["expires_at"]

    async def run() -> None:
        assert await first.hold()
        assert not await second.hold()
        taken = await expiry()
        clock.now += TTL / 3 - timedelta(milliseconds=1)
        assert await first.hold()
        assert await expiry() == taken, "renewed before a third of its ttl passed"
        clock.now += timedelta(milliseconds=1)
        assert await first.hold()
        assert await expiry() > taken
        clock.now += TTL * 2
        assert await second.hold(), "an expired lease is taken over"
        assert not await first.hold()

    runner.run(run())
