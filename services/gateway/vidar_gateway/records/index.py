"""The record index: what an event is matched against, per kind the embeddings of the active
objects of active records on active watch lists, with each record's lists and each list's
camera groups and threshold.

What is matchable is loaded whole from MongoDB (the gateway's `records` stores are the one
source), and loaded again when the records' revision moves (vidar_gateway.records.revision),
which every change of a list, a record or an object does: 10,000 records load in a fraction of a
second, far less often than events come. The vectors are kept by the engine search uses
(`search_engine`), and searched through the same `VectorIndex`, on looks_like's scale
(`Similarity`), so a list's threshold reads as a looks_like `threshold` does:

- embedded (`EmbeddedRecordVectors`): a matrix per kind of the matchable objects in the gateway's
  memory, made again at each load;
- Qdrant (vidar_gateway.records.qdrant): a collection per kind that every replica keeps to the
  objects as it loads them, writing only what changed.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from vidar.indexes import WATCH_LISTS
from vidar.models.detection_events import ObjectType
from vidar.models.records import CARD_TYPE_OF
from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar_gateway.records.cards.store import COLLECTIONS as CARD_COLLECTIONS
from vidar_gateway.records.objects.layout import COLLECTIONS as OBJECT_COLLECTIONS
from vidar_gateway.search.index import DIMENSIONS, MatrixIndex, VectorIndex
from vidar_gateway.search.matrix import VectorMatrix
from vidar_gateway.search.settings import SearchSettings

OBJECT_TYPE_OF: dict[DetectorType, ObjectType] = {object_type.kind: object_type for object_type in ObjectType}


@dataclass(frozen=True)
class ListRule:
    """An active watch list as matching reads it: an empty `camera_groups` covers them all."""

    id: int
    camera_groups: frozenset[int]
    thresholds: dict[DetectorType, float]

    def covers(self, camera_group: int) -> bool:
        return not self.camera_groups or camera_group in self.camera_groups


@dataclass(frozen=True)
class Match:
    card: int
    object_id: str
    lists: list[int]
    confidence: float


# An object's embedding, by object id, of the ids given (those with one of the kind's length).
EmbeddingsOf = Callable[[list[int]], Awaitable[dict[int, list[float]]]]
# Objects whose embeddings are read from MongoDB at once, and added to a matrix at once.
EMBEDDINGS_CHUNK = 1000
LOAD_CHUNK = 10_000


@dataclass(frozen=True)
class KindObjects:
    """One kind's objects as a load read them: every one there is, those an event may match, and
    how to read their embeddings (an object's never changes once it is made)."""

    existing: frozenset[int]
    matchable: frozenset[int]
    embeddings_of: EmbeddingsOf


class RecordVectors(Protocol):
    """The engine that keeps the record index's vectors."""

    async def hold(self, objects: dict[DetectorType, KindObjects]) -> VectorIndex:
        """A `VectorIndex` of at least every matchable object (by its id as a string) with its
        embedding. It may hold others, which the record index leaves out of its matches."""
        ...


class EmbeddedRecordVectors:
    """In the gateway's memory: the matchable objects' embeddings, read again at each load, in new
    matrices (a search under way keeps those of its own load)."""

    async def hold(self, objects: dict[DetectorType, KindObjects]) -> VectorIndex:
        sizes = {kind: len(of_kind.matchable) for kind, of_kind in objects.items()}
        matrices = {kind: VectorMatrix(DIMENSIONS[kind], sizes.get(kind, 0)) for kind in DETECTOR_TYPES}
        for kind, of_kind in objects.items():
            matchable = sorted(of_kind.matchable)
            # A chunk at a time: a million embeddings as MongoDB's lists of floats would take 40 GB.
            for start in range(0, len(matchable), LOAD_CHUNK):
                embeddings = await of_kind.embeddings_of(matchable[start : start + LOAD_CHUNK])
                if embeddings:
                    vectors = np.asarray(list(embeddings.values()), np.float32)
                    # One group: rows are only ever replaced by a new load, never dropped.
                    ids = [str(object_id) for object_id in embeddings]
                    await asyncio.to_thread(matrices[kind].add, 0, ids, vectors)
        return MatrixIndex(matrices)


@contextlib.asynccontextmanager
async def record_vectors(settings: SearchSettings) -> AsyncIterator[RecordVectors]:
    """The engine search uses, for the records too."""
    if settings.search_engine == "embedded":
        yield EmbeddedRecordVectors()
        return
    from vidar_gateway.records import qdrant  # the Qdrant client takes over a second to import

    async with qdrant.opened(settings) as vectors:
        yield vectors


class RecordIndex:
    """One load of the records: what is matchable never changes after, a new load replaces it
    (on Qdrant the vectors are shared by the loads, and kept to the latest)."""

    def __init__(
        self,
        lists: dict[int, ListRule],
        lists_of_card: dict[DetectorType, dict[int, tuple[int, ...]]],
        vectors: VectorIndex,
        card_of: dict[str, int],
        revision: int,
    ) -> None:
        self._lists = lists
        self._lists_of_card = lists_of_card
        self._vectors = vectors
        self._card_of = card_of
        self.revision = revision

    def __len__(self) -> int:
        """The matchable objects."""
        return len(self._card_of)

    def lists_of(self, kind: DetectorType, card: int) -> list[ListRule]:
        """The active lists an active record is on; none for a record that matches nothing."""
        return [self._lists[list_id] for list_id in self._lists_of_card[kind].get(card, ())]

    async def best(self, kind: DetectorType, camera_group: int, embedding: Iterable[float]) -> Match | None:
        """The object most like `embedding` whose record is on a list covering `camera_group` with
        a threshold the likeness passes; None when there is none. Ties go to the lower object id."""
        covering = {rule.id: rule for rule in self._lists.values() if rule.covers(camera_group)}
        if not covering or not self._lists_of_card[kind]:
            return None
        lowest = min(rule.thresholds[kind] for rule in covering.values())
        query = np.asarray(list(embedding), np.float32)
        for hit in await self._vectors.search(kind, query, lowest, None):
            card = self._card_of.get(hit.id)
            if card is None:
                continue  # not matchable as loaded (an engine may hold more)
            passed = [
                list_id
                for list_id in self._lists_of_card[kind][card]
                if list_id in covering and hit.confidence >= covering[list_id].thresholds[kind]
            ]
            if passed:
                return Match(card, hit.id, passed, hit.confidence)
        return None


async def load(
    db: AsyncDatabase, default_thresholds: dict[DetectorType, float], revision: int, vectors: RecordVectors
) -> RecordIndex:
    """Every active object of an active record on an active list, as the records are now."""
    lists = {
        doc["_id"]: ListRule(
            doc["_id"],
            frozenset(doc.get("camera_groups") or ()),
            {kind: _threshold(doc, kind, default_thresholds) for kind in DETECTOR_TYPES},
        )
        for doc in await _read_all(db[WATCH_LISTS], {"active": 1, "camera_groups": 1, **_THRESHOLD_FIELDS})
        if doc.get("active")
    }
    lists_of_card: dict[DetectorType, dict[int, tuple[int, ...]]] = {}
    objects: dict[DetectorType, KindObjects] = {}
    card_of: dict[str, int] = {}
    for kind in DETECTOR_TYPES:
        object_type = OBJECT_TYPE_OF[kind]
        cards = await _read_all(db[CARD_COLLECTIONS[CARD_TYPE_OF[object_type]]], {"active": 1, "watch_lists": 1})
        lists_of_card[kind] = {
            doc["_id"]: on_lists
            for doc in cards
            if doc.get("active") and (on_lists := tuple(sorted(set(doc["watch_lists"]) & lists.keys())))
        }
        collection = db[OBJECT_COLLECTIONS[object_type]]
        docs = await _read_all(collection, {"active": 1, "card": 1})
        matchable = {
            doc["_id"]: doc["card"] for doc in docs if doc.get("active") and doc.get("card") in lists_of_card[kind]
        }
        objects[kind] = KindObjects(
            frozenset(doc["_id"] for doc in docs), frozenset(matchable), _embeddings_reader(collection, kind)
        )
        card_of.update({str(object_id): card for object_id, card in matchable.items()})
    return RecordIndex(lists, lists_of_card, await vectors.hold(objects), card_of, revision)


_THRESHOLD_FIELDS = {f"{kind}_threshold": 1 for kind in DETECTOR_TYPES}


def _threshold(doc: dict[str, Any], kind: DetectorType, defaults: dict[DetectorType, float]) -> float:
    own = doc.get(f"{kind}_threshold")
    return defaults[kind] if own is None else float(own)


async def _read_all(collection: AsyncCollection, projection: dict[str, int]) -> list[dict[str, Any]]:
    """The whole collection: which are active is filtered here, as no index leads with `active`;
    objects are read without their embeddings, which an engine reads only as it needs them."""
    return await collection.find({}, projection).to_list()


def _embeddings_reader(collection: AsyncCollection, kind: DetectorType) -> EmbeddingsOf:
    async def embeddings_of(object_ids: list[int]) -> dict[int, list[float]]:
        found: dict[int, list[float]] = {}
        for start in range(0, len(object_ids), EMBEDDINGS_CHUNK):
            chunk = object_ids[start : start + EMBEDDINGS_CHUNK]
            async for doc in collection.find({"_id": {"$in": chunk}}, {"embedding": 1}):
                embedding = doc.get("embedding")
                if embedding is not None and len(embedding) == DIMENSIONS[kind]:
                    found[doc["_id"]] = embedding
        return found

    return embeddings_of
