"""What every list endpoint's query string shares: page size and cursor, comma-separated lists,
and the created_date filters with one meaning everywhere."""

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from vidar_gateway.params import DateTimeParam, IdParam, WholeNumber

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


def split_commas(value: Any) -> Any:
    """`id_in=1,2&id_in=3` and `id_in=1&id_in=2&id_in=3` mean the same."""
    values = value if isinstance(value, list) else [value]
    return [part.strip() for item in values for part in str(item).split(",") if part.strip()]


# Back to a century ago.
Weeks = Annotated[int, Field(ge=1, le=5200), WholeNumber]
# A repeatable, comma-separated list parameter of integer ids.
Ids = Annotated[list[IdParam], BeforeValidator(split_commas), Field(default_factory=list)]


class PageParams(BaseModel):
    """`limit` and `page` of every list; each list adds its own `ordering`."""

    limit: Annotated[int, WholeNumber] = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    page: str | None = Field(None, max_length=1024, description="A next_page or prev_page value.")


class CreatedDateFilters(BaseModel):
    """Week filters count back from the current calendar week (Monday 00:00 in
    VIDAR_TIMEZONE): 1 is this week, 2 the week before."""

    model_config = ConfigDict(extra="forbid")

    created_date_gt: DateTimeParam | None = None
    created_date_gte: DateTimeParam | None = None
    created_date_lt: DateTimeParam | None = None
    created_date_lte: DateTimeParam | None = None
    created_date_last_n_days: Annotated[int, Field(ge=1, le=36500), WholeNumber] | None = None
    created_date_nth_full_week: Weeks | None = Field(None, description="1: this Monday-Sunday week")
    created_date_nth_work_week: Weeks | None = Field(None, description="1: this week's Monday-Friday")

    def created_date_ranges(self, zone: tzinfo, now: datetime) -> list[dict[str, dict[str, datetime]]]:
        """One `{"created_date": {op: bound}}` condition per bound, for an `$and`."""
        return [{"created_date": bound} for bound in self._date_bounds(zone, now)]

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


def with_ranges(query: dict[str, Any], ranges: list[dict]) -> dict[str, Any]:
    """`query` with the range conditions added under `$and` (none: unchanged)."""
    return {**query, "$and": ranges} if ranges else query


def _aware(value: datetime, zone: tzinfo) -> datetime:
    """A date-time without offset is read in VIDAR_TIMEZONE."""
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _week_start(today: date, nth: int) -> date:
    return today - timedelta(days=today.weekday() + 7 * (nth - 1))


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)
