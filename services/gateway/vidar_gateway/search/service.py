"""looks_like on the events and clusters lists: the query's vector, the index's ranking, and the
page of it that the list's filters admit."""

from datetime import datetime, tzinfo

import numpy as np
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from vidar import archive
from vidar.models.stream_settings import DetectorType
from vidar_gateway.clusters.filters import ClusterListQuery
from vidar_gateway.clusters.store import HIDDEN as CLUSTER_HIDDEN
from vidar_gateway.errors import ApiError
from vidar_gateway.events.filters import EventListQuery
from vidar_gateway.events.store import HIDDEN as EVENT_HIDDEN
from vidar_gateway.search.detections import DetectionStore
from vidar_gateway.search.index import DIMENSIONS, VectorIndex
from vidar_gateway.search.looks_like import LooksLike, SimilarityParams
from vidar_gateway.search.ranked import RANKED, Admit, Ranked, RankedPage, ranked_page
from vidar_gateway.search.settings import SearchSettings
from vidar_gateway.search.similarity import Similarity

PARAM = "looks_like"
# Ranked events whose clusters are read at once.
CLUSTER_LOOKUP_CHUNK = 1000


class Search:
    def __init__(self, db: AsyncDatabase, index: VectorIndex, detections: DetectionStore, settings: SearchSettings):
        self._events = db[archive.DETECTIONS]
        self._clusters = db[archive.CLUSTERS]
        self._index = index
        self._detections = detections
        self._settings = settings

    async def events(self, kind: DetectorType, query: EventListQuery, zone: tzinfo, now: datetime) -> RankedPage:
        ranking = await self._ranking(kind, query, query.video_archive)
        if query.id_in:
            wanted = set(query.id_in)
            ranking = [row for row in ranking if row.id in wanted]
        filters = query.model_copy(update={"id_in": []}).to_query(kind, zone, now)
        return await ranked_page(ranking, self._admit(self._events, filters, EVENT_HIDDEN), query.limit, query.page)

    async def clusters(self, kind: DetectorType, query: ClusterListQuery) -> RankedPage:
        """Clusters ranked by their most alike member."""
        events = await self._ranking(kind, query, query.video_archive)
        best: dict[str, float] = {}
        for start in range(0, len(events), CLUSTER_LOOKUP_CHUNK):
            chunk = {row.id: row.confidence for row in events[start : start + CLUSTER_LOOKUP_CHUNK]}
            found = self._events.find({"_id": {"$in": list(chunk)}}, projection={"video_id": 1, "cluster": 1})
            async for doc in found:
                if doc.get("cluster") is not None:
                    cluster = f"{doc['video_id']}-{kind}-{doc['cluster']}"
                    best[cluster] = max(best.get(cluster, 0.0), chunk[doc["_id"]])
        ranking = sorted((Ranked(cluster, confidence) for cluster, confidence in best.items()), key=lambda r: r.key)
        admit = self._admit(self._clusters, query.to_query(kind), CLUSTER_HIDDEN)
        return await ranked_page(ranking, admit, query.limit, query.page)

    async def _ranking(self, kind: DetectorType, query: SimilarityParams, video: int | None) -> list[Ranked]:
        if "ordering" in query.model_fields_set and getattr(query, "ordering", None) != RANKED:
            raise ApiError(400, f"ordering: a looks_like list is ordered by {RANKED}", param="ordering")
        looks_like = query.similar_to
        assert looks_like is not None  # the routes call this only with looks_like
        vector = await self.query_vector(looks_like, kind)
        threshold = self._settings.default_threshold(kind) if query.threshold is None else query.threshold
        return await self._index.search(kind, vector, threshold, None if video is None else {video})

    async def query_vector(self, looks_like: LooksLike, kind: DetectorType) -> np.ndarray:
        """The embedding to rank by: the detection's, the event's, or the mean of the cluster's members'."""
        if looks_like.source == "detection":
            detection = await self._detections.get(looks_like.id)
            if detection is None:
                raise ApiError(404, f"looks_like: detection {looks_like.id} is unknown or expired", param=PARAM)
            _same_kind(looks_like, detection.kind, kind)
            return _checked(looks_like, detection.embedding, kind)
        if looks_like.source == "event":
            _same_kind(looks_like, looks_like.kind, kind)
            event = await self._events.find_one({"_id": looks_like.id, "kind": kind}, projection={"embedding": 1})
            if event is None:
                raise ApiError(404, f"looks_like: {kind} event {looks_like.id} does not exist", param=PARAM)
            return _checked(looks_like, event.get("embedding"), kind)
        return await self._cluster_vector(looks_like, kind)

    async def _cluster_vector(self, looks_like: LooksLike, kind: DetectorType) -> np.ndarray:
        cluster = await self._clusters.find_one({"_id": looks_like.id}, projection={"kind": 1, "members": 1})
        if cluster is None:
            raise ApiError(404, f"looks_like: cluster {looks_like.id} does not exist", param=PARAM)
        _same_kind(looks_like, cluster["kind"], kind)
        members = self._events.find({"_id": {"$in": cluster["members"]}, "kind": kind}, projection={"embedding": 1})
        vectors = [doc["embedding"] async for doc in members if len(doc.get("embedding") or ()) == DIMENSIONS[kind]]
        if not vectors:
            raise ApiError(400, f"looks_like: cluster {looks_like.id} has no member with an embedding", param=PARAM)
        return Similarity(kind).query_vector(np.asarray(vectors, np.float32))

    @staticmethod
    def _admit(collection: AsyncCollection, filters: dict, projection: dict[str, int]) -> Admit:
        async def admit(ids: list[str]) -> dict[str, dict]:
            # The ids first: SecantusDB serves a query by its first clause an index leads, and the
            # filters' first (the kind, an archive) holds every event of it.
            found = collection.find({"_id": {"$in": ids}, **filters}, projection=projection)
            return {doc["_id"]: doc async for doc in found}

        return admit


def _same_kind(looks_like: LooksLike, found: str | None, kind: DetectorType) -> None:
    if found != kind:
        raise ApiError(400, f"looks_like: {looks_like} is a {found}, not a {kind}", param=PARAM)


def _checked(looks_like: LooksLike, embedding: list[float] | None, kind: DetectorType) -> np.ndarray:
    if embedding is None or len(embedding) != DIMENSIONS[kind]:
        raise ApiError(400, f"looks_like: {looks_like} has no {kind} embedding to search by", param=PARAM)
    return np.asarray(embedding, np.float32)
