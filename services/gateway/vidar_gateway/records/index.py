"""The record index: what an event is matched against, per kind the embeddings of the active
objects of active records on active watch lists, with each record's lists and each list's
camera groups and threshold.

It is loaded whole from MongoDB (the gateway's `records` stores are the one source) and loaded
again when the records' revision moves (vidar_gateway.records.revision), which every change of a
list, a record or an object does: 10,000 face objects are 5 MB and load in a fraction of a
second, far less often than events come. The vectors live in `VectorMatrix`, search's embedded
engine, grouped by record, and are compared on looks_like's scale (`Similarity`), so a list's
threshold reads as a looks_like `threshold` does.
"""

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from vidar.indexes import WATCH_LISTS
from vidar.models.detection_events import ObjectType
from vidar.models.records import CARD_TYPE_OF
from vidar.models.stream_settings import DETECTOR_TYPES, DetectorType
from vidar_gateway.records.cards.store import COLLECTIONS as CARD_COLLECTIONS
from vidar_gateway.records.objects.layout import COLLECTIONS as OBJECT_COLLECTIONS
from vidar_gateway.search.index import DIMENSIONS
from vidar_gateway.search.matrix import VectorMatrix
from vidar_gateway.search.similarity import Similarity

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


class RecordIndex:
    """One load of the records; never changed after, a new load replaces it whole."""

    def __init__(
        self,
        lists: dict[int, ListRule],
        lists_of_card: dict[DetectorType, dict[int, tuple[int, ...]]],
        matrices: dict[DetectorType, VectorMatrix],
        card_of: dict[str, int],
        revision: int,
    ) -> None:
        self._lists = lists
        self._lists_of_card = lists_of_card
        self._matrices = matrices
        self._card_of = card_of
        self.revision = revision

    def __len__(self) -> int:
        return sum(len(matrix) for matrix in self._matrices.values())

    def lists_of(self, kind: DetectorType, card: int) -> list[ListRule]:
        """The active lists an active record is on; none for a record that matches nothing."""
        return [self._lists[list_id] for list_id in self._lists_of_card[kind].get(card, ())]

    def best(self, kind: DetectorType, camera_group: int, embedding: Iterable[float]) -> Match | None:
        """The object most like `embedding` whose record is on a list covering `camera_group` with
        a threshold the likeness passes; None when there is none. Ties go to the lower object id."""
        covering = {rule.id: rule for rule in self._lists.values() if rule.covers(camera_group)}
        matrix = self._matrices[kind]
        if not covering or not len(matrix):
            return None
        similarity = Similarity(kind)
        lowest = min(rule.thresholds[kind] for rule in covering.values())
        query = np.asarray(list(embedding), np.float32)
        ids, squared = matrix.search(query, similarity.max_squared_distance(lowest), None)
        confidences = np.round(similarity.confidence(squared.astype(np.float64)), 6)
        for negated, object_id in sorted(zip((-confidences).tolist(), ids.tolist(), strict=True)):
            card = self._card_of[object_id]
            passed = [
                list_id
                for list_id in self._lists_of_card[kind][card]
                if list_id in covering and -negated >= covering[list_id].thresholds[kind]
            ]
            if passed:
                return Match(card, object_id, passed, -negated)
        return None


async def load(db: AsyncDatabase, default_thresholds: dict[DetectorType, float], revision: int) -> RecordIndex:
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
    matrices: dict[DetectorType, VectorMatrix] = {}
    card_of: dict[str, int] = {}
    for kind in DETECTOR_TYPES:
        object_type = OBJECT_TYPE_OF[kind]
        cards = await _read_all(db[CARD_COLLECTIONS[CARD_TYPE_OF[object_type]]], {"active": 1, "watch_lists": 1})
        lists_of_card[kind] = {
            doc["_id"]: on_lists
            for doc in cards
            if doc.get("active") and (on_lists := tuple(sorted(set(doc["watch_lists"]) & lists.keys())))
        }
        objects = await _read_all(db[OBJECT_COLLECTIONS[object_type]], {"active": 1, "card": 1, "embedding": 1})
        matched = [doc for doc in objects if _matchable(doc, kind, lists_of_card[kind])]
        matrices[kind] = await asyncio.to_thread(_matrix, kind, matched)
        card_of.update({str(doc["_id"]): doc["card"] for doc in matched})
    return RecordIndex(lists, lists_of_card, matrices, card_of, revision)


_THRESHOLD_FIELDS = {f"{kind}_threshold": 1 for kind in DETECTOR_TYPES}


def _threshold(doc: dict[str, Any], kind: DetectorType, defaults: dict[DetectorType, float]) -> float:
    own = doc.get(f"{kind}_threshold")
    return defaults[kind] if own is None else float(own)


async def _read_all(collection: AsyncCollection, projection: dict[str, int]) -> list[dict[str, Any]]:
    """The whole collection: records are few (thousands), and which are active is filtered here,
    as no index leads with `active`."""
    return await collection.find({}, projection).to_list()


def _matchable(doc: dict[str, Any], kind: DetectorType, lists_of_card: dict[int, tuple[int, ...]]) -> bool:
    embedding = doc.get("embedding")
    return (
        bool(doc.get("active"))
        and doc.get("card") in lists_of_card
        and embedding is not None
        and len(embedding) == DIMENSIONS[kind]
    )


def _matrix(kind: DetectorType, objects: list[dict[str, Any]]) -> VectorMatrix:
    matrix = VectorMatrix(DIMENSIONS[kind])
    by_card: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for doc in objects:
        by_card[doc["card"]].append(doc)
    for card, docs in by_card.items():
        vectors = np.asarray([doc["embedding"] for doc in docs], np.float32)
        matrix.add(card, [str(doc["_id"]) for doc in docs], vectors)
    return matrix
