"""Group commit (vidar.batching): callers waiting together are written together, and each gets its
own result or its own error."""

import asyncio
from collections.abc import Sequence

import pytest

from vidar.batching import Batcher


class Refused(Exception):
    pass


class Writer:
    """Writes numbers; refuses negative ones alone, and fails a whole batch holding a zero."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    async def write_all(self, items: list[int]) -> Sequence[int | Exception]:
        self.batches.append(items)
        await asyncio.sleep(0.01)
        if 0 in items:
            raise RuntimeError("the batch failed")
        return [Refused(item) if item < 0 else item * 10 for item in items]


async def submit_all(batcher: Batcher[int, int], items: list[int]) -> list[int | BaseException]:
    return await asyncio.gather(*(batcher.submit(item) for item in items), return_exceptions=True)


def test_callers_waiting_together_are_written_in_batches_of_at_most_max_batch() -> None:
    writer = Writer()
    results = asyncio.run(submit_all(Batcher(writer.write_all, max_batch=4), list(range(1, 11))))
    assert results == [n * 10 for n in range(1, 11)]
    assert writer.batches == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]


def test_an_item_refused_alone_fails_only_its_caller() -> None:
    results = asyncio.run(submit_all(Batcher(Writer().write_all, max_batch=8), [1, -2, 3]))
    assert results[0::2] == [10, 30]
    assert isinstance(results[1], Refused)


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_goes_on() -> None:
    writer = Writer()
    batcher = Batcher(writer.write_all, max_batch=2)

    async def scenario() -> tuple[list[int | BaseException], int]:
        failed = await submit_all(batcher, [0, 1])
        return failed, await batcher.submit(2)

    failed, after = asyncio.run(scenario())
    assert all(isinstance(result, RuntimeError) for result in failed)
    assert after == 20


def test_a_caller_alone_is_written_at_once() -> None:
    writer = Writer()
    assert asyncio.run(Batcher(writer.write_all, max_batch=8).submit(7)) == 70
    assert writer.batches == [[7]]


@pytest.mark.parametrize("max_batch", [1, 3])
def test_every_caller_gets_its_own_result(max_batch: int) -> None:
    results = asyncio.run(submit_all(Batcher(Writer().write_all, max_batch=max_batch), [4, 5, 6, 7]))
    assert results == [40, 50, 60, 70]


def test_a_lingering_batcher_writes_items_that_arrive_one_by_one_together() -> None:
    writer = Writer()
    batcher = Batcher(writer.write_all, max_batch=8, linger_s=10.0)

    async def one_by_one() -> list[int | BaseException]:
        submitted = []
        for item in range(1, 9):  # the eighth fills the batch: no wait for the linger's end
            submitted.append(asyncio.create_task(batcher.submit(item)))
            await asyncio.sleep(0)
        return await asyncio.gather(*submitted)

    assert asyncio.run(one_by_one()) == [n * 10 for n in range(1, 9)]
    assert writer.batches == [list(range(1, 9))]


def test_a_lingering_batcher_writes_a_batch_that_does_not_fill_once_it_has_lingered() -> None:
    writer = Writer()
    batcher = Batcher(writer.write_all, max_batch=8, linger_s=0.05)
    assert asyncio.run(submit_all(batcher, [1, 2])) == [10, 20]
    assert writer.batches == [[1, 2]]


def test_callers_waiting_on_a_lingering_batch_are_cancelled_with_it() -> None:
    batcher = Batcher(Writer().write_all, max_batch=8, linger_s=10.0)

    async def cancelled_while_lingering() -> list[int | BaseException]:
        waiting = [asyncio.create_task(batcher.submit(item)) for item in (1, 2)]
        await asyncio.sleep(0.01)
        for task in asyncio.all_tasks():
            if task.get_coro().__name__ == "_write_waiting":
                task.cancel()
        return await asyncio.gather(*waiting, return_exceptions=True)

    assert all(isinstance(result, asyncio.CancelledError) for result in asyncio.run(cancelled_while_lingering()))
