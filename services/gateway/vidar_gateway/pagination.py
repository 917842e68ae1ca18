"""Keyset pagination with opaque cursors.

A cursor holds the sort key of the row at the page's edge, not an offset, so pages stay stable
when rows are inserted or deleted between requests. Ties are broken by `_id` (an integer, or a
string for detection events and clusters).
"""

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter
from pymongo.asynchronous.collection import AsyncCollection

from vidar_gateway.errors import ApiError
from vidar_gateway.listing import with_condition

Direction = Literal["next", "prev"]
RowId = int | str
# What a cursor's sort key and row id may hold: a forged one of another type would match no row,
# and one beyond BSON's range would fail in the driver.
Int64 = Annotated[int, Field(ge=-(2**63), lt=2**63)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
TextId = Annotated[str, Field(min_length=1, max_length=256)]


@dataclass(frozen=True)
class SortField:
    """A field a list can be ordered by: its name in MongoDB and the type of its values."""

    field: str
    type: Any


@dataclass(frozen=True)
class Ordering:
    """An `ordering` query value: API name, Mongo field, ascending or not, and the types of the
    field's values and of the rows' ids."""

    name: str
    field: str
    ascending: bool
    key_type: Any
    id_type: Any

    def sort_keys(self, direction: int) -> list[tuple[str, int]]:
        """This ordering's sort, `_id` breaking ties; `direction` -1 walks it backwards."""
        keys = [(self.field, direction), ("_id", direction)]
        return keys[:1] if self.field == "_id" else keys

    @classmethod
    def parse(cls, value: str, fields: dict[str, SortField], id_type: Any) -> "Ordering":
        sort = fields[value.removeprefix("-")]
        return cls(value, sort.field, not value.startswith("-"), sort.type, id_type)


@functools.cache
def _cursor_fields(key_type: Any, id_type: Any) -> TypeAdapter:
    """ordering, direction, sort key, row id, inclusive: each of its type, as `encode` writes them."""
    return TypeAdapter(tuple[str, Direction, key_type, id_type, bool], config=ConfigDict(strict=True))


@dataclass(frozen=True)
class Cursor:
    ordering: str
    direction: Direction
    value: Any
    id: RowId
    inclusive: bool = False

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        raw = json.dumps([self.ordering, self.direction, value, self.id, self.inclusive], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, ordering: Ordering) -> "Cursor":
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            cursor = cls(*_cursor_fields(ordering.key_type, ordering.id_type).validate_json(raw))
        except (binascii.Error, ValueError):
            raise ApiError(400, "page: not a cursor this API returned", param="page") from None
        if isinstance(cursor.value, datetime) and cursor.value.tzinfo is None:
            # The API writes stored dates with their offset; a naive one cannot be merged with a
            # date filter's bounds.
            raise ApiError(400, "page: not a cursor this API returned", param="page")
        if cursor.ordering != ordering.name:
            raise ApiError(400, f"page: cursor was made for ordering={cursor.ordering}", param="page")
        return cursor


@dataclass(frozen=True)
class Page:
    rows: list[dict]
    next_page: str | None
    prev_page: str | None


def _beyond(
    query: dict, ordering: Ordering, value: Any, row_id: RowId, *, forward: bool, inclusive: bool = False
) -> list[dict]:
    """`query` narrowed to the rows strictly after (forward) or before the key (value, row_id) in this
    ordering, as queries whose rows follow one another in that walk: first the key's ties beyond
    row_id, then the rows beyond value. Each bound joins its field's condition, never an `$or` or
    `$and`: MongoDB bounds its index scan the same, and SecantusDB plans only such queries."""
    ascending = ordering.ascending == forward
    op = "$gt" if ascending else "$lt"
    id_beyond = {op + ("e" if inclusive else ""): row_id}
    if ordering.field == "_id":
        return [with_condition(query, "_id", id_beyond)]
    ties = with_condition(with_condition(query, ordering.field, {"$eq": value}), "_id", id_beyond)
    return [ties, with_condition(query, ordering.field, {op: value})]


async def _find(
    collection: AsyncCollection,
    windows: list[dict],
    sort: list[tuple[str, int]],
    limit: int,
    projection: dict[str, int] | None,
) -> list[dict]:
    """Up to `limit` rows of the consecutive `windows`, in order: each is asked only for what is missing."""
    rows: list[dict] = []
    for window in windows:
        rows += await collection.find(window, projection=projection).sort(sort).limit(limit - len(rows)).to_list()
        if len(rows) == limit:
            break
    return rows


async def paginate(
    collection: AsyncCollection,
    query: dict,
    ordering: Ordering,
    limit: int,
    page: str | None,
    projection: dict[str, int] | None = None,
) -> Page:
    """One page of `query` in `ordering`; `projection` leaves fields out of the rows."""
    cursor = Cursor.decode(page, ordering) if page else None
    forward = cursor is None or cursor.direction == "next"
    windows = [query]
    if cursor is not None:
        windows = _beyond(query, ordering, cursor.value, cursor.id, forward=forward, inclusive=cursor.inclusive)
    order = 1 if ordering.ascending == forward else -1
    rows = await _find(collection, windows, ordering.sort_keys(order), limit + 1, projection)
    more = len(rows) > limit
    rows = rows[:limit] if forward else rows[:limit][::-1]

    def edge(row: dict | None, direction: Direction, inclusive: bool = False) -> str:
        key = (row[ordering.field], row["_id"]) if row else (cursor.value, cursor.id)
        return Cursor(ordering.name, direction, key[0], key[1], inclusive).encode()

    async def exists_beyond(row: dict, *, ahead: bool) -> bool:
        for probe in _beyond(query, ordering, row[ordering.field], row["_id"], forward=ahead):
            if await collection.find_one(probe, projection={"_id": 1}) is not None:
                return True
        return False

    if not rows:
        # Past an edge (rows deleted meanwhile): offer the way back, the anchor row included.
        if cursor is None:
            return Page([], None, None)
        back = edge(None, "prev" if forward else "next", inclusive=True)
        return Page([], None, back) if forward else Page([], back, None)
    has_next = more if forward else await exists_beyond(rows[-1], ahead=True)
    has_prev = (not forward and more) or (forward and cursor is not None and await exists_beyond(rows[0], ahead=False))
    return Page(
        rows,
        edge(rows[-1], "next") if has_next else None,
        edge(rows[0], "prev") if has_prev else None,
    )
