"""Identical reads asked at the same time share one (vidar_gateway.shared_reads)."""

import asyncio

import pytest

from vidar_gateway.shared_reads import SharedReads


class Reads:
    """A read that counts its starts and answers with its number, once `release` is set."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def read(self) -> int:
        self.started += 1
        number = self.started
        await self.release.wait()
        return number


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_reads_asked_meanwhile_share_the_next_read_not_the_one_in_flight() -> None:
    async def scenario() -> list[int]:
        shared, reads = SharedReads(), Reads()
        first = asyncio.create_task(shared.read("page", reads.read))
        await settle()
        later = [asyncio.create_task(shared.read("page", reads.read)) for _ in range(19)]
        await settle()
        assert reads.started == 1, "the others wait for the read in flight to end"
        reads.release.set()
        return await asyncio.gather(first, *later)

    answers = asyncio.run(scenario())
    assert answers == [1] + [2] * 19


def test_different_reads_are_not_shared() -> None:
    async def scenario() -> list[int]:
        shared, reads = SharedReads(), Reads()
        tasks = [asyncio.create_task(shared.read(key, reads.read)) for key in ("a", "b", "c")]
        await settle()
        reads.release.set()
        return sorted(await asyncio.gather(*tasks))

    assert asyncio.run(scenario()) == [1, 2, 3]


def test_an_error_reaches_everyone_who_asked_and_the_next_read_runs_again() -> None:
    async def scenario() -> None:
        shared = SharedReads()
        started = asyncio.Event()

        async def failing() -> int:
            started.set()
            await asyncio.sleep(0.01)
            raise ValueError("refused")

        tasks = [asyncio.create_task(shared.read("page", failing)) for _ in range(3)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(result, ValueError) for result in results)

        async def answering() -> int:
            return 7

        assert await shared.read("page", answering) == 7

    asyncio.run(scenario())


def test_a_client_that_goes_away_leaves_the_read_to_the_others() -> None:
    async def scenario() -> int:
        shared, reads = SharedReads(), Reads()
        first = asyncio.create_task(shared.read("page", reads.read))
        await settle()
        waiting = asyncio.create_task(shared.read("page", reads.read))
        staying = asyncio.create_task(shared.read("page", reads.read))
        await settle()
        first.cancel()
        waiting.cancel()
        reads.release.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await staying

    assert asyncio.run(scenario()) == 2
