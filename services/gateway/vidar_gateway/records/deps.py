"""The records' stores, built once when the gateway starts (a router lifespan, inside the gateway's
own, so its runtime is there), and their route dependencies."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from vidar import indexes
from vidar.indexes import CARD_COLLECTIONS, OBJECT_COLLECTIONS, WATCH_LISTS
from vidar.models.stream_settings import DETECTOR_TYPES
from vidar_gateway.auth import Role
from vidar_gateway.deps import Caller
from vidar_gateway.errors import ApiError
from vidar_gateway.records.cards.store import CardStore
from vidar_gateway.records.index import record_vectors
from vidar_gateway.records.matching import Matcher, RecordIndexes, matching
from vidar_gateway.records.objects.store import RecordObjectStore
from vidar_gateway.records.retro import RetroMatching, retro_matching
from vidar_gateway.records.watch_lists.store import WatchListStore
from vidar_gateway.search.settings import SearchSettings


@dataclass
class Records:
    watch_lists: WatchListStore
    cards: CardStore
    objects: RecordObjectStore
    retro: RetroMatching


@contextlib.asynccontextmanager
async def records_lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime = app.state.runtime
    db = runtime.mongo[runtime.settings.mongo_db]
    await indexes.ensure(db, WATCH_LISTS, *CARD_COLLECTIONS, *OBJECT_COLLECTIONS)
    watch_lists = WatchListStore(db)
    cards = CardStore(db, watch_lists)
    settings = SearchSettings()
    defaults = {kind: settings.default_threshold(kind) for kind in DETECTOR_TYPES}
    async with record_vectors(settings) as vectors:
        record_indexes = RecordIndexes(db, defaults, vectors)
        matcher = Matcher(record_indexes, runtime.broker, runtime.broker.connection.jetstream())
        # The search index is read when a retroactive matching runs: search's lifespan has made it by then.
        retro = RetroMatching(db, record_indexes, lambda: app.state.search.index, runtime.broker)
        app.state.records = Records(watch_lists, cards, RecordObjectStore(db, runtime.objects, cards), retro)
        async with matching(matcher), retro_matching(retro):
            yield


def _records(request: Request) -> Records:
    return request.app.state.records


def _watch_lists(request: Request) -> WatchListStore:
    return _records(request).watch_lists


def _cards(request: Request) -> CardStore:
    return _records(request).cards


def _objects(request: Request) -> RecordObjectStore:
    return _records(request).objects


def _retro(request: Request) -> RetroMatching:
    return _records(request).retro


async def _admin_writes(request: Request, caller: Caller) -> None:
    """Watch lists decide what every camera looks for: only an admin changes them."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and caller is not Role.ADMIN:
        raise ApiError(403, f"only an admin token can change watch lists, not a {caller} one")


WatchListsRepo = Annotated[WatchListStore, Depends(_watch_lists)]
CardsRepo = Annotated[CardStore, Depends(_cards)]
ObjectsRepo = Annotated[RecordObjectStore, Depends(_objects)]
Retro = Annotated[RetroMatching, Depends(_retro)]
admin_writes = Depends(_admin_writes)
