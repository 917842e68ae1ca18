"""Search's parts, built once at start next to the gateway's runtime, and the route dependency."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request
from nats.aio.client import Client
from pymongo.asynchronous.database import AsyncDatabase

from vidar_gateway.search.detections import DetectionStore
from vidar_gateway.search.follower import IndexFollower
from vidar_gateway.search.index import EmbeddedIndex, VectorIndex
from vidar_gateway.search.service import Search
from vidar_gateway.search.settings import SearchSettings

if TYPE_CHECKING:
    from vidar_gateway.search.qdrant import QdrantIndex


@dataclass
class SearchRuntime:
    settings: SearchSettings
    index: VectorIndex
    detections: DetectionStore
    search: Search


@contextlib.asynccontextmanager
async def search_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs inside the gateway's own lifespan (FastAPI nests a router's), so its runtime is there."""
    runtime = app.state.runtime
    settings = SearchSettings()
    db = runtime.mongo[runtime.settings.mongo_db]
    detections = DetectionStore(db, settings.detection_ttl)
    await detections.ensure_indexes()
    async with _index(settings, db) as index:
        app.state.search = SearchRuntime(settings, index, detections, Search(db, index, detections, settings))
        # In the background: the gateway serves while the index is built (a search meanwhile finds less).
        keeping = asyncio.create_task(_keeping(index, runtime.broker.connection))
        try:
            yield
        finally:
            keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeping  # its subscription ends before the gateway's NATS connection closes


@contextlib.asynccontextmanager
async def _index(settings: SearchSettings, db: AsyncDatabase) -> AsyncIterator["EmbeddedIndex | QdrantIndex"]:
    if settings.search_engine == "embedded":
        yield EmbeddedIndex(db)
        return
    # The Qdrant engine's modules load only when it is chosen: its client takes over a second to import.
    from vidar_gateway.search import qdrant

    async with qdrant.opened(settings, db) as index:
        yield index


def _keeping(index: "EmbeddedIndex | QdrantIndex", connection: Client) -> Coroutine[Any, Any, None]:
    """What keeps the index up to date: each replica's follower, or the replicas' shared writer."""
    if isinstance(index, EmbeddedIndex):
        return IndexFollower(index, connection).run()
    from vidar_gateway.search.writer import IndexWriter  # the Qdrant engine's (see `_index`)

    return IndexWriter(index, connection).run()


def _search(request: Request) -> SearchRuntime:
    return request.app.state.search


SearchDep = Annotated[SearchRuntime, Depends(_search)]
