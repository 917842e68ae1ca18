"""The query string of GET /videos/ and /videos/count/ as one model, and its MongoDB query."""

import re
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vidar.models.video import ObjectId

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
# API ordering name -> document field; `name` sorts on a copy where null is "".
ORDER_FIELDS = {"id": "_id", "created_date": "created_date", "name": "sort_name"}
VideoOrdering = Literal["id", "-id", "created_date", "-created_date", "name", "-name"]
Ids = Annotated[list[ObjectId], Field(default_factory=list)]


def _split_commas(value: Any) -> Any:
    """`id_in=1,2&id_in=3` and `id_in=1&id_in=2&id_in=3` mean the same."""
    values = value if isinstance(value, list) else [value]
    return [part.strip() for item in values for part in str(item).split(",") if part.strip()]


class VideoFilters(BaseModel):
    """Filters combine with AND. Week filters count back from the current calendar week
    (Monday 00:00 in VIDAR_TIMEZONE): 1 is this week, 2 the week before."""

    model_config = ConfigDict(extra="forbid")

    camera_groups: Ids
    case_in: Ids
    id_in: Ids
    created_date_gt: datetime | None = None
    created_date_gte: datetime | None = None
    created_date_lt: datetime | None = None
    created_date_lte: datetime | None = None
    created_date_last_n_days: int | None = Field(None, ge=1, le=36500)
    created_date_nth_full_week: int | None = Field(None, ge=1, le=5200, description="1: this Monday-Sunday week")
    created_date_nth_work_week: int | None = Field(None, ge=1, le=5200, description="1: this week's Monday-Friday")
    name_contains: str | None = Field(None, min_length=1, max_length=256)

    @field_validator("camera_groups", "case_in", "id_in", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split_commas(value)

    def to_query(self, zone: tzinfo, now: datetime) -> dict:
        query: dict[str, Any] = {}
        if self.camera_groups:
            query["camera_group"] = {"$in": self.camera_groups}
        if self.case_in:
            query["case"] = {"$in": self.case_in}
        if self.id_in:
            query["_id"] = {"$in": self.id_in}
        if self.name_contains:
            query["name"] = {"$regex": re.escape(self.name_contains), "$options": "i"}
        ranges = [{"created_date": bound} for bound in self._date_bounds(zone, now)]
        if ranges:
            query["$and"] = ranges
        return query

    def _date_bounds(self, zone: tzinfo, now: datetime) -> list[dict[str, datetime]]:
        bounds = [
            {op: _aware(value, zone)}
            for op, value in (
                ("$gt", self.created_date_gt),
                ("$gte", self.created_date_gte),
                ("$lt", self.created_date_lt),
                ("$lte", self.created_date_lte),
            )
            if value is not None
        ]
        if self.created_date_last_n_days:
            bounds.append({"$gte": now - timedelta(days=self.created_date_last_n_days)})
        for nth, days in ((self.created_date_nth_full_week, 7), (self.created_date_nth_work_week, 5)):
            if nth:
                start = _week_start(now.astimezone(zone).date(), nth)
                bounds += [{"$gte": _midnight(start, zone)}, {"$lt": _midnight(start + timedelta(days=days), zone)}]
        return bounds


class VideoListQuery(VideoFilters):
    ordering: VideoOrdering = "-id"
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    page: str | None = Field(None, max_length=1024, description="A next_page or prev_page value.")


def _aware(value: datetime, zone: tzinfo) -> datetime:
    """A date-time without offset is read in VIDAR_TIMEZONE."""
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _week_start(today: date, nth: int) -> date:
    return today - timedelta(days=today.weekday() + 7 * (nth - 1))


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)
