"""Clusters of detection events, read from what the clustering writes (`clusters`)."""

from pymongo.asynchronous.database import AsyncDatabase

from vidar import indexes
from vidar.archive import CLUSTERS
from vidar_gateway.clusters.filters import ORDER_FIELDS, ClusterFilters, ClusterListQuery
from vidar_gateway.errors import not_found
from vidar_gateway.pagination import Ordering, Page, TextId, paginate

# Each ordering and the archive filter have their index (vidar.indexes); every query names the kind.
INDEXES = indexes.keys_of(CLUSTERS)
# Members are listed by /events/<type>/?video_archive=&cluster=, a page at a time.
HIDDEN = {"members": 0}


class ClusterStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._clusters = db[CLUSTERS]

    async def ensure_indexes(self) -> None:
        await indexes.ensure(self._clusters.database, CLUSTERS)

    async def get(self, kind: str, cluster_id: str) -> dict:
        doc = await self._clusters.find_one({"_id": cluster_id, "kind": kind}, projection=HIDDEN)
        if doc is None:
            raise not_found(f"{kind} cluster", cluster_id)
        return doc

    async def list(self, kind: str, query: ClusterListQuery) -> Page:
        ordering = Ordering.parse(query.ordering, ORDER_FIELDS, TextId)
        return await paginate(
            self._clusters, query.to_query(kind), ordering, query.limit, query.page, projection=HIDDEN
        )

    async def count(self, kind: str, filters: ClusterFilters) -> int:
        return await self._clusters.count_documents(filters.to_query(kind))
