"""Identical reads asked at the same time share one trip to the database.

SecantusDB (the embedded server) answers one request at a time, so when 20 clients ask the same
list, 20 copies of its queries wait in one queue behind each other and behind every write of the
runs in progress. Here a read asked while the same read is in flight waits for the next one,
which starts when that one ends and answers everyone who asked meanwhile: at most two copies of a
read are ever running or waiting, however many ask.

No answer is older than its request: a read that began before a request arrived may have missed a
write that request's client had just made, so a request never joins one in flight, only the one
after it. Nothing is kept once a read has answered.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class SharedReads:
    """Reads by key: identical reads have equal keys."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Task[Any]] = {}
        self._next: dict[Hashable, tuple[asyncio.Future[Any], Callable[[], Awaitable[Any]]]] = {}

    async def read(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """`read()`'s answer, shared with the identical reads asked while it is waiting to start."""
        if key not in self._running:
            task: asyncio.Future[T] = self._start(key, read)
        elif key in self._next:
            task = self._next[key][0]
        else:
            task = asyncio.get_running_loop().create_future()
            self._next[key] = (task, read)
        # A client that goes away leaves the read to the others who asked.
        return await asyncio.shield(task)

    def _start(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(read())
        self._running[key] = task
        task.add_done_callback(lambda done: self._ended(key, done))
        return task

    def _ended(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved: whoever asked has it, or has gone
        if key not in self._next:
            return
        waiting, read = self._next.pop(key)
        self._start(key, read).add_done_callback(lambda done: _settle(waiting, done))


def _settle(future: asyncio.Future[Any], task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        future.cancel()
    elif (error := task.exception()) is not None:
        future.set_exception(error)
    else:
        future.set_result(task.result())
