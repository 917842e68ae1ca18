"""The query string of GET /videos/ and /videos/count/ as one model, and its MongoDB query."""

import dataclasses
import re
from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from vidar.health import ProcessingStatus
from vidar.models.video import ObjectId
from vidar_gateway.listing import CreatedDateFilters, Ids, PageParams, split_commas, with_condition
from vidar_gateway.pagination import COUNTER_ID_WINDOWS, CREATED_DATE_WINDOWS, FenceWindows, SortField
from vidar_gateway.params import CalendarDateTime
from vidar_gateway.videos.counts import archives_start
from vidar_gateway.videos.name_fences import ONE_IN, load_name_fences

# API ordering name -> document field; `name` sorts on a copy where null is "".
# Oldest first starts at the oldest date kept with the counts, rather than in one query of all.
ARCHIVE_CREATED_WINDOWS = dataclasses.replace(CREATED_DATE_WINDOWS, start=archives_start)
ORDER_FIELDS = {
    "id": SortField("_id", ObjectId, COUNTER_ID_WINDOWS),
    "created_date": SortField("created_date", CalendarDateTime, ARCHIVE_CREATED_WINDOWS),
    "name": SortField("sort_name", str, FenceWindows(load_name_fences, ONE_IN)),
}
VideoOrdering = Literal["id", "-id", "created_date", "-created_date", "name", "-name"]


class VideoFilters(CreatedDateFilters):
    """Filters combine with AND."""

    camera_groups: Ids
    case_in: Ids
    id_in: Ids
    name_contains: str | None = Field(None, min_length=1, max_length=256)
    # Not in the contract: the web UI's status filter, open to any client.
    status_in: Annotated[list[ProcessingStatus], BeforeValidator(split_commas)] = Field(
        default_factory=list, description="health_status.status is one of these, e.g. INPROGRESS,QUEUED"
    )

    def to_query(self, zone: tzinfo, now: datetime) -> dict:
        query: dict[str, Any] = {}
        if self.camera_groups:
            query["camera_group"] = _one_of(self.camera_groups)
        if self.case_in:
            query["case"] = _one_of(self.case_in)
        if self.id_in:
            query["_id"] = {"$in": self.id_in}
        if self.name_contains:
            query["name"] = {"$regex": re.escape(self.name_contains), "$options": "i"}
        if self.status_in:
            query["health_status.status"] = {"$in": [status.value for status in self.status_in]}
        return with_condition(query, "created_date", self.created_date_condition(zone, now))


def _one_of(values: list[int]) -> int | dict[str, list[int]]:
    """One value as an equality: SecantusDB serves an equality and a range on a compound index
    (`case` and an `_id` window), but not an `$in` and a range."""
    return values[0] if len(set(values)) == 1 else {"$in": values}


class VideoListQuery(PageParams, VideoFilters):
    ordering: VideoOrdering = "-id"
