"""What every list endpoint's query string shares: page size and cursor, comma-separated lists,
and the created_date filters with one meaning everywhere."""

import operator
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from vidar_gateway.params import DateTimeParam, IdParam, WholeNumber

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
# Every cursor is a JSON array, `["...`, in unpadded URL-safe base64 (`pagination.Cursor`).
CURSOR_PATTERN = r"^Wy[A-Za-z0-9_-]+$"


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
    page: str | None = Field(
        None,
        max_length=1024,
        pattern=CURSOR_PATTERN,
        description="A next_page or prev_page value, as the API returned it; any other is refused (400).",
    )


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

    def created_date_condition(self, zone: tzinfo, now: datetime) -> dict[str, datetime]:
        """Every bound as one `created_date` condition (empty when none): a query written this way
        rides the created_date index in MongoDB and in SecantusDB, which plans no `$and`."""
        return merged_condition(*self._date_bounds(zone, now))

    def _date_bounds(self, zone: tzinfo, now: datetime) -> list[dict[str, datetime]]:
        bounds = [
            {op: _aware(value, zone)}
            for op, value in (
                ("$gt", self.created_date_gt),
                ("$gte", self.created_date_gte),
                ("$lt", self.created_date_lt),
            )
            if value is not None
        ]
        if self.created_date_lte is not None:
            bounds.append({"$lt": _next_millisecond(_aware(self.created_date_lte, zone))})
        if self.created_date_last_n_days:
            bounds.append({"$gte": now - timedelta(days=self.created_date_last_n_days)})
        for nth, days in ((self.created_date_nth_full_week, 7), (self.created_date_nth_work_week, 5)):
            if nth:
                start = _week_start(now.astimezone(zone).date(), nth)
                bounds += [{"$gte": _midnight(start, zone)}, {"$lt": _midnight(start + timedelta(days=days), zone)}]
        return bounds


# Each range operator's side, and whether it excludes its bound (the tighter at an equal bound).
_LOWER = {"$gt": True, "$gte": False}
_UPPER = {"$lt": True, "$lte": False}
_COMPARE = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}


def merged_condition(*conditions: dict[str, Any]) -> dict[str, Any]:
    """Operator conditions on one field as one; of two bounds on one side the tighter stays, so
    the result matches exactly what all of them match together."""
    merged: dict[str, Any] = {}
    for condition in conditions:
        for op, operand in condition.items():
            merged = _with_operator(merged, op, operand)
    return merged


def with_condition(query: dict[str, Any], field: str, condition: dict[str, Any]) -> dict[str, Any]:
    """`query` and `condition` on `field`, merged into the one condition on that field. A bare value
    is an equality, and an equality alone is written bare: SecantusDB plans only a bare one into a
    compound index's prefix."""
    if not condition:
        return query
    if field in query:
        existing = query[field]
        is_operators = isinstance(existing, dict) and all(key.startswith("$") for key in existing)
        condition = _in_within_bounds(merged_condition(existing if is_operators else {"$eq": existing}, condition))
    return {**query, field: condition["$eq"] if condition.keys() == {"$eq"} else condition}


def _in_within_bounds(condition: dict[str, Any]) -> dict[str, Any]:
    """An `$in` with bounds as the `$in` of the values within them: both servers look each listed
    value up, where SecantusDB reads the whole range of an `$in` with bounds."""
    bounds = {op: bound for op, bound in condition.items() if op in _LOWER or op in _UPPER}
    if "$in" not in condition or not bounds:
        return condition
    try:
        kept = [value for value in condition["$in"] if all(_COMPARE[op](value, bound) for op, bound in bounds.items())]
    except TypeError:  # values of types Python does not order (BSON does): left to the server
        return condition
    return {**{op: operand for op, operand in condition.items() if op not in bounds}, "$in": kept}


def _with_operator(condition: dict[str, Any], op: str, operand: Any) -> dict[str, Any]:
    side = _LOWER if op in _LOWER else _UPPER if op in _UPPER else None
    if side is None:
        if op in condition and condition[op] != operand:
            raise ValueError(f"two different {op} conditions on one field cannot be merged")
        return {**condition, op: operand}
    rival = next((existing for existing in condition if existing in side), None)
    if rival is not None and not _tighter(side, op, operand, rival, condition[rival]):
        return condition
    return {**{key: value for key, value in condition.items() if key != rival}, op: operand}


def _tighter(side: dict[str, bool], op: str, bound: Any, rival_op: str, rival_bound: Any) -> bool:
    if bound == rival_bound:
        return side[op] and not side[rival_op]
    return bound > rival_bound if side is _LOWER else bound < rival_bound


def _aware(value: datetime, zone: tzinfo) -> datetime:
    """A date-time without offset is read in VIDAR_TIMEZONE."""
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _next_millisecond(value: datetime) -> datetime:
    """The bound `$lt` this gives equals `$lte value`: BSON dates hold whole milliseconds (the driver
    drops the rest). Written so because SecantusDB 0.7's scan of a compound index leaves out the
    rows equal to an inclusive upper bound."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000) + timedelta(milliseconds=1)


def _week_start(today: date, nth: int) -> date:
    return today - timedelta(days=today.weekday() + 7 * (nth - 1))


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)
