"""The query string of GET /events/<type>/ and its count as one model, and its MongoDB query."""

import dataclasses
from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from vidar.models.stream_settings import DetectorType
from vidar_gateway.events.attributes import AttributeFilters
from vidar_gateway.events.matches import MatchFilters
from vidar_gateway.events.starts import created_date_start, timestamp_start
from vidar_gateway.listing import CreatedDateFilters, Ids, PageParams, split_commas, with_condition
from vidar_gateway.pagination import CREATED_DATE_WINDOWS, FiniteFloat, KeyWindows, SortField, between
from vidar_gateway.params import CalendarDateTime, IdParam, WholeNumber
from vidar_gateway.search.looks_like import SimilarityParams

Quality = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
# API ordering name -> document field; ties sort by the event id.
# Quality lies in 0..1; dates and timestamps start at the span of the events kept by storage.
ORDER_FIELDS = {
    "created_date": SortField(
        "created_date", CalendarDateTime, dataclasses.replace(CREATED_DATE_WINDOWS, start=created_date_start)
    ),
    "quality": SortField("quality", Quality, KeyWindows(0.05, between(0.0, 1.0))),
    "timestamp": SortField("timestamp", FiniteFloat, KeyWindows(5.0, timestamp_start)),
}
EventOrdering = Literal[
    "created_date", "-created_date", "quality", "-quality", "timestamp", "-timestamp", "-looks_like_confidence"
]
EventIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=256)]],
    BeforeValidator(split_commas),
    Field(default_factory=list),
]
# Within what MongoDB keeps exactly as an integer.
ClusterNumber = Annotated[int, Field(ge=-(2**53), le=2**53), WholeNumber]


class EventFilters(CreatedDateFilters, MatchFilters, AttributeFilters):
    """Filters combine with AND."""

    video_archive: IdParam | None = None
    camera_groups: Ids
    track: str | None = Field(None, min_length=1, max_length=256, description="a track id")
    cluster: ClusterNumber | None = None
    quality_gte: Quality | None = None
    id_in: EventIds
    acknowledged: bool | None = Field(
        None, description="false: matches waiting for an acknowledgement; true: acknowledged ones"
    )

    def to_query(self, kind: DetectorType, zone: tzinfo, now: datetime) -> dict:
        # The archive first, then a match, then the attributes: a query no index fits whole rides its
        # first indexed field in SecantusDB, and an archive's events, a record's, or a kind's that
        # have an attribute, are far fewer than a kind's.
        values = (("video_id", self.video_archive), ("track_id", self.track), ("cluster", self.cluster))
        query: dict[str, Any] = {field: value for field, value in values if value is not None}
        if self.acknowledged is not None:
            # Present only where a list asks for an acknowledgement: a sparse index serves either value.
            query["acknowledged"] = self.acknowledged
        query |= self.match_conditions() | self.attribute_conditions(kind) | {"kind": kind}
        if self.camera_groups:
            query["camera_group"] = {"$in": self.camera_groups}
        if self.quality_gte is not None:
            query["quality"] = {"$gte": self.quality_gte}
        if self.id_in:
            query["_id"] = {"$in": self.id_in}
        return with_condition(query, "created_date", self.created_date_condition(zone, now))


class EventListQuery(PageParams, SimilarityParams, EventFilters):
    ordering: EventOrdering = Field(
        "-created_date", description="default: newest first; with looks_like, most alike first (the only one)"
    )
