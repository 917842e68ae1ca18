"""Search's parts, built once at start next to the gateway's runtime, and the route dependency."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from vidar_gateway.search.detections import DetectionStore
from vidar_gateway.search.follower import IndexFollower
from vidar_gateway.search.index import EmbeddedIndex
from vidar_gateway.search.service import Search
from vidar_gateway.search.settings import SearchSettings


@dataclass
class SearchRuntime:
    settings: SearchSettings
    index: EmbeddedIndex
    detections: DetectionStore
    search: Search


@contextlib.asynccontextmanager
async def search_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs inside the gateway's own lifespan (FastAPI nests a router's), so its runtime is there."""
    runtime = app.state.runtime
    settings = SearchSettings()
    db = runtime.mongo[runtime.settings.mongo_db]
    index = EmbeddedIndex(db)
    detections = DetectionStore(db, settings.detection_ttl)
    await detections.ensure_indexes()
    app.state.search = SearchRuntime(settings, index, detections, Search(db, index, detections, settings))
    # In the background: the gateway serves while the index is built (a search meanwhile finds less).
    following = asyncio.create_task(IndexFollower(index, runtime.broker.connection).run())
    try:
        yield
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following  # its subscription ends before the gateway's NATS connection closes


def _search(request: Request) -> SearchRuntime:
    return request.app.state.search


SearchDep = Annotated[SearchRuntime, Depends(_search)]
