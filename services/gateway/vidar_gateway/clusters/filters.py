"""The query string of GET /clusters/<type>/ and its count as one model, and its MongoDB query."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vidar.models.video import ObjectId
from vidar_gateway.listing import PageParams

# API ordering name -> document field; ties sort by the cluster id.
ORDER_FIELDS = {"cluster": "cluster", "size": "size", "first_timestamp": "first_timestamp"}
ClusterOrdering = Literal["cluster", "-cluster", "size", "-size", "first_timestamp", "-first_timestamp"]


class ClusterFilters(BaseModel):
    """Filters combine with AND."""

    model_config = ConfigDict(extra="forbid")

    video_archive: ObjectId | None = None
    size_gte: int | None = Field(None, ge=1, le=2**53, description="clusters of at least this many events")

    def to_query(self, kind: str) -> dict:
        query: dict[str, Any] = {"kind": kind}
        if self.video_archive is not None:
            query["video_id"] = self.video_archive
        if self.size_gte is not None:
            query["size"] = {"$gte": self.size_gte}
        return query


class ClusterListQuery(PageParams, ClusterFilters):
    ordering: ClusterOrdering = Field("cluster", description="default: by cluster number")
