"""The query string of GET /clusters/<type>/ and its count as one model, and its MongoDB query."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vidar_gateway.listing import PageParams
from vidar_gateway.pagination import FiniteFloat, Int64, SortField
from vidar_gateway.params import IdParam, WholeNumber
from vidar_gateway.search.looks_like import SimilarityParams

# API ordering name -> document field; ties sort by the cluster id.
ORDER_FIELDS = {
    "cluster": SortField("cluster", Int64),
    "size": SortField("size", Int64),
    "first_timestamp": SortField("first_timestamp", FiniteFloat),
}
ClusterOrdering = Literal[
    "cluster", "-cluster", "size", "-size", "first_timestamp", "-first_timestamp", "-looks_like_confidence"
]


class ClusterFilters(BaseModel):
    """Filters combine with AND."""

    model_config = ConfigDict(extra="forbid")

    video_archive: IdParam | None = None
    size_gte: Annotated[int, Field(ge=1, le=2**53), WholeNumber] | None = Field(
        None, description="clusters of at least this many events"
    )

    def to_query(self, kind: str) -> dict:
        query: dict[str, Any] = {"kind": kind}
        if self.video_archive is not None:
            query["video_id"] = self.video_archive
        if self.size_gte is not None:
            query["size"] = {"$gte": self.size_gte}
        return query


class ClusterListQuery(PageParams, SimilarityParams, ClusterFilters):
    ordering: ClusterOrdering = Field(
        "cluster", description="default: by cluster number; with looks_like, most alike first (the only one)"
    )
