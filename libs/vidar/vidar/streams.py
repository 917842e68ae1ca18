"""An async byte stream (a request body, a download) as the blocking file the minio client
reads in its thread."""

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator


class StreamTooLarge(Exception):
    pass


class AsyncStreamReader(io.RawIOBase):
    """Pulls chunks from the event loop on demand, so at most one chunk waits here; counts the
    bytes, hashes them, and stops the upload once it passes `limit`."""

    def __init__(self, first: bytes, chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop, limit: int):
        super().__init__()
        self._pending = first
        self._chunks = chunks
        self._loop = loop
        self._limit = limit
        self._ended = False
        self.size = 0
        self._sha256 = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._ended:
            self._pending = self._next_chunk()
        taken, self._pending = self._pending[: len(buffer)], self._pending[len(buffer) :]
        buffer[: len(taken)] = taken
        self._count(taken)
        return len(taken)

    def _next_chunk(self) -> bytes:
        try:
            return asyncio.run_coroutine_threadsafe(self._pull(), self._loop).result()
        except StopAsyncIteration:
            self._ended = True
            return b""

    async def _pull(self) -> bytes:
        return await anext(self._chunks)

    def _count(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._limit:
            raise StreamTooLarge(f"the file is larger than the limit of {self._limit} bytes")
        self._sha256.update(data)


async def first_chunk(chunks: AsyncIterator[bytes]) -> bytes:
    """The first non-empty chunk, or b"" for an empty stream (so nothing is stored for it)."""
    async for chunk in chunks:
        if chunk:
            return chunk
    return b""
