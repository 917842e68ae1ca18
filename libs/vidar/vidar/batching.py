"""Group commit: calls that arrive while a batch is being written wait, and are written together
in the next batch, with one transaction and one command of each kind for all of them.

On SecantusDB (the embedded server) every command waits for the one before, whoever sent it, so
under load a batch grows by itself: a caller alone is written at once, and each of a burst's
callers shares the commands of the others waiting with it. Each caller gets its own result, or
its own error: `write_all` answers every item, and an exception it raises is every item's.

A caller that can wait (a consumer of events, whose producer is not waiting for it) may ask for
`linger_s`: each batch is written that long after its first item arrived, unless it is full
before, so a stream of single items is written a few dozen at a time rather than one or two.

    creations = Batcher(create_all, max_batch=64)  # create_all(items) -> one result per item
    doc = await creations.submit(item)
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    def __init__(
        self,
        write_all: Callable[[list[Item]], Awaitable[Sequence[Result | Exception]]],
        *,
        max_batch: int,
        linger_s: float = 0.0,
    ) -> None:
        """`write_all` answers each item, in order: its result, or the exception it alone failed with."""
        self._write_all = write_all
        self._max_batch = max_batch
        self._linger_s = linger_s
        self._full = asyncio.Event()
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """`item` written with the others waiting; its result, or its error raised."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if len(self._waiting) >= self._max_batch:
            self._full.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        return await future

    async def _write_waiting(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._waiting:
                await self._linger()
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                await self._write(batch)
        except BaseException:  # cancelled (shutting down): no caller waits for ever
            for _, future in [*batch, *self._waiting]:
                future.cancel()
            raise

    async def _write(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            outcomes: Sequence[Result | Exception] = await self._write_all([item for item, _ in batch])
        except Exception as error:
            outcomes = [error] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its caller gave up waiting
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _linger(self) -> None:
        """Wait up to `linger_s` for the batch to fill."""
        if self._linger_s > 0 and len(self._waiting) < self._max_batch:
            self._full.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._linger_s)
