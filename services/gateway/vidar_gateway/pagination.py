"""Keyset pagination with opaque cursors.

A cursor holds the sort key of the row at the page's edge, not an offset, so pages stay stable
when rows are inserted or deleted between requests. Ties are broken by `_id` (an integer, or a
string for detection events and clusters).

A page of a date or number ordering is read in successive windows of its key, each a bound on the
ordering field: SecantusDB (the embedded server) decodes every candidate of a query before it
sorts and limits, so one query for 20 rows of 10,000 decoded all of them, and a window that holds
about a page decodes about a page. MongoDB walks the same index for each window and stops at the
limit; the windows cost it a few more round trips.

A text key (names) has no width to grow a window by, so its windows lie between fences: a kept
sample of its keys, one row in about `rows_per_fence` (`FenceWindows`). A query whose filter
matches fewer rows than a window would hold is read in one query led by that filter instead
(`paginate`'s `driver`). Where the rows' keys are kept elsewhere (the archive catalogue), a
`Walk` picks the page's rows from them, and the collection is read only for those.

Identical pages asked at the same time are read once (`vidar_gateway.shared_reads`).
"""

import base64
import binascii
import bisect
import functools
import json
import math
from collections.abc import Awaitable, Callable, Iterator, Sized
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter
from pymongo.asynchronous.collection import AsyncCollection

from vidar.mongo import COUNTERS
from vidar_gateway.errors import ApiError
from vidar_gateway.listing import with_condition
from vidar_gateway.shared_reads import SharedReads

Direction = Literal["next", "prev"]
RowId = int | str
# What a cursor's sort key and row id may hold: a forged one of another type would match no row,
# and one beyond BSON's range would fail in the driver.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
TextId = Annotated[str, Field(min_length=1, max_length=256)]


# The first window is a guess; later ones grow to what the rows found so far say is missing, and
# after this many the rest of the walk is one query, so a sparse filter costs few round trips.
MAX_WINDOWS = 8
_GROWTH_WHEN_EMPTY = 4
_MARGIN = 1.5
_RANGE_OPS = {"$gt", "$gte", "$lt", "$lte"}
_PAGES = SharedReads()


# Where a walk of a key starts, ascending or not, when neither a cursor nor a filter bound places
# it (None: it is read in one query).
Start = Callable[[AsyncCollection, bool], Awaitable[Any | None]]


async def _unknown_start(collection: AsyncCollection, ascending: bool) -> None:
    return None


@dataclass(frozen=True)
class KeyWindows:
    """How a walk of a date or number key is cut into windows: the first one's width, where a walk
    starts that neither a cursor nor a filter bound places, how much wider a window is after an
    empty one, and after how many the rest is one query."""

    first_width: Any
    start: Start = _unknown_start
    growth_when_empty: int = _GROWTH_WHEN_EMPTY
    max_windows: int = MAX_WINDOWS


def between(lowest: Any, highest: Any) -> Start:
    """The start of a key whose values all lie in [lowest, highest]."""

    async def start(collection: AsyncCollection, ascending: bool) -> Any:
        return lowest if ascending else highest

    return start


async def _now_when_descending(collection: AsyncCollection, ascending: bool) -> datetime | None:
    return None if ascending else datetime.now(UTC)


async def _ids_of_the_counter(collection: AsyncCollection, ascending: bool) -> int:
    """Ids come from the collection's counter (`vidar.mongo.next_id`), 1 up to its value. An id
    handed out after this read is in the first window all the same: it is open on its near side."""
    if ascending:
        return 0
    counter = await collection.database[COUNTERS].find_one({"_id": collection.name})
    return (int(counter["value"]) if counter else 0) + 1


# Newest first starts now (a row created later is in the first window all the same: it is open
# on its near side); oldest first has no known start and is read in one query. The first window is
# a second: rows made in a burst (archives created by a script, a run's detections) share one
# hour, and a first window of an hour held all 10,000 of a burst. Empty windows are cheap index
# lookups, so they grow eightfold: twelve reach back 34 years.
CREATED_DATE_WINDOWS = KeyWindows(timedelta(seconds=1), _now_when_descending, growth_when_empty=8, max_windows=12)
# Ids of a counter-numbered collection, in both directions; a page of 20 without filters is
# usually one window, since ids are dense but for deletions.
COUNTER_ID_WINDOWS = KeyWindows(64, _ids_of_the_counter)


# Fences of a key, ascending: (key, row id) pairs of a sample of its rows.
FenceKeys = list[tuple[Any, RowId]]


@dataclass(frozen=True)
class FenceWindows:
    """How a walk of a key with no width (text) is cut into windows: between kept fences, `load`ed
    for each walk, about `rows_per_fence` rows apart. Any fences give the same rows; stale or
    missing ones only make a window hold more or fewer."""

    load: Callable[[AsyncCollection], Awaitable[FenceKeys]]
    rows_per_fence: int
    growth_when_empty: int = _GROWTH_WHEN_EMPTY
    max_windows: int = MAX_WINDOWS


Windows = KeyWindows | FenceWindows


@dataclass(frozen=True)
class SortField:
    """A field a list can be ordered by: its name in MongoDB, the type of its values, and the
    windows a page of it is read in (None: one query)."""

    field: str
    type: Any
    windows: Windows | None = None


@dataclass(frozen=True)
class Ordering:
    """An `ordering` query value: API name, Mongo field, ascending or not, the types of the
    field's values and of the rows' ids, and the windows its pages are read in."""

    name: str
    field: str
    ascending: bool
    key_type: Any
    id_type: Any
    windows: Windows | None = None

    def sort_keys(self, direction: int) -> list[tuple[str, int]]:
        """This ordering's sort, `_id` breaking ties; `direction` -1 walks it backwards."""
        keys = [(self.field, direction), ("_id", direction)]
        return keys[:1] if self.field == "_id" else keys

    @classmethod
    def parse(cls, value: str, fields: dict[str, SortField], id_type: Any) -> "Ordering":
        sort = fields[value.removeprefix("-")]
        return cls(value, sort.field, not value.startswith("-"), sort.type, id_type, sort.windows)


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


async def _anchor(collection: AsyncCollection, query: dict, ordering: Ordering, ascending: bool) -> Any | None:
    """Where the windows of `query` start in this walk: the query's own bound on the walk's near
    side (a cursor's, a filter's), or the ordering's start; None when it is read in one query."""
    windows, condition = ordering.windows, query.get(ordering.field, {})
    if not isinstance(windows, KeyWindows) or not isinstance(condition, dict) or not condition.keys() <= _RANGE_OPS:
        return None
    near_ops = ("$gt", "$gte") if ascending else ("$lt", "$lte")
    anchor = next((condition[op] for op in near_ops if op in condition), None)
    return await windows.start(collection, ascending) if anchor is None else anchor


def _key_windows(
    query: dict, ordering: Ordering, ascending: bool, anchor: Any | None, found: Sized, wanted: int
) -> Iterator[dict]:
    """`query` as consecutive windows of the ordering key in this walk from `anchor`, the last one
    unbounded beyond, so together they match what `query` matches; each window after the first is
    as wide as the rows `found` so far say the `wanted` rest needs."""
    windows = ordering.windows
    if anchor is None or not isinstance(windows, KeyWindows):
        yield query
        return
    field = ordering.field
    far_op, beyond_op = ("$lt", "$gte") if ascending else ("$gte", "$lt")
    width, edge, rest = windows.first_width, anchor, query
    for _ in range(windows.max_windows - 1):
        far = _step(edge, width, ascending)
        window = rest if far is None else with_condition(rest, field, {far_op: far})
        if window == rest:
            break  # the query's own far bound ends the walk within this window
        yield window
        width = _next_width(width, abs(far - anchor), len(found), wanted, windows.growth_when_empty)
        edge, rest = far, with_condition(query, field, {beyond_op: far})
    yield rest


def _step(edge: Any, width: Any, ascending: bool) -> Any | None:
    """The key `width` beyond `edge` in the walk; None past what the type holds (a date before year
    1, an integer beyond BSON's 64 bits)."""
    try:
        far = edge + width if ascending else edge - width
    except OverflowError:
        return None
    return None if isinstance(far, int) and not INT64_MIN <= far <= INT64_MAX else far


def _next_width(width: Any, covered: Any, found: int, wanted: int, growth_when_empty: int) -> Any:
    if not found:
        return width * growth_when_empty
    grown = covered * ((wanted - found) / found * _MARGIN)
    return max(width, math.ceil(grown) if isinstance(width, int) else grown)


def leading_with(query: dict, field: str) -> dict:
    """`query` with `field`'s condition first. SecantusDB serves a query by its first clause that
    leads an index, and a window's bound on its key holds about a page, where a filter's clause
    may hold every row (`camera_groups=1` before the id window: 1.5 s a page at 20,000 archives,
    6 ms after it). MongoDB's planner ignores the order."""
    return {field: query[field], **query} if field in query else query


@dataclass(frozen=True)
class Edge:
    """Where a walk starts: after the key (value, row id), or at it when `inclusive`."""

    value: Any
    id: RowId
    inclusive: bool = False


# Up to `limit` rows from `start` (None: from the first) in one direction of a walk (ascending or
# not), with `projection`: how `paginate` reads a page's rows when given one.
Walk = Callable[[bool, Edge | None, int, dict[str, int] | None], Awaitable[list[dict]]]


async def _walk(
    collection: AsyncCollection,
    query: dict,
    ordering: Ordering,
    ascending: bool,
    start: Edge | None,
    limit: int,
    projection: dict[str, int] | None,
    driver: str | None = None,
) -> list[dict]:
    """Up to `limit` rows of `query` from `start` in this walk. With a `driver`, each part is one
    query led by the driver's clause; otherwise in windows of the ordering's key."""
    if isinstance(ordering.windows, FenceWindows) and driver is None:
        return await _walk_fences(collection, query, ordering, ordering.windows, ascending, start, limit, projection)
    parts = [query]
    if start is not None:
        forward = ordering.ascending == ascending
        parts = _beyond(query, ordering, start.value, start.id, forward=forward, inclusive=start.inclusive)
    sort = ordering.sort_keys(1 if ascending else -1)
    rows: list[dict] = []
    for part in parts:
        if driver is not None:
            windows: Iterator[dict] = iter([leading_with(part, driver)])
        else:
            anchor = await _anchor(collection, part, ordering, ascending)
            windows = _key_windows(part, ordering, ascending, anchor, rows, limit)
        for window in windows:
            led = window if driver is not None else leading_with(window, ordering.field)
            rows += await collection.find(led, projection=projection).sort(sort).limit(limit - len(rows)).to_list()
            if len(rows) == limit:
                return rows
    return rows


async def _walk_fences(
    collection: AsyncCollection,
    query: dict,
    ordering: Ordering,
    fences: FenceWindows,
    ascending: bool,
    start: Edge | None,
    limit: int,
    projection: dict[str, int] | None,
) -> list[dict]:
    """Up to `limit` rows of `query` from `start`, read between fences: each window spans as many
    as the rows found so far say the rest needs, and after `max_windows` the rest is one query."""
    sort = ordering.sort_keys(1 if ascending else -1)
    ahead = _fences_ahead(await fences.load(collection), start, ascending)
    rows: list[dict] = []
    near, span, passed = start, math.ceil(limit * _MARGIN / fences.rows_per_fence), 0
    for window in range(fences.max_windows):
        last = window == fences.max_windows - 1 or span >= len(ahead)
        far = None if last else Edge(*ahead[span - 1], inclusive=not ascending)
        for part in _between(query, ordering, near, far, ascending):
            part = leading_with(part, ordering.field)
            rows += await collection.find(part, projection=projection).sort(sort).limit(limit - len(rows)).to_list()
            if len(rows) == limit:
                return rows
        if far is None:
            return rows
        ahead, passed = ahead[span:], passed + span
        near = Edge(far.value, far.id, inclusive=ascending)
        span = _next_span(span, passed, len(rows), limit, fences.growth_when_empty)
    return rows


def _next_span(span: int, passed: int, found: int, wanted: int, growth_when_empty: int) -> int:
    if not found:
        return span * growth_when_empty
    return max(1, math.ceil(passed * (wanted - found) / found * _MARGIN))


def _fences_ahead(keys: FenceKeys, start: Edge | None, ascending: bool) -> FenceKeys:
    """The fences strictly beyond `start` in this walk, nearest first."""
    if start is None:
        return keys if ascending else keys[::-1]
    edge = (start.value, start.id)
    if ascending:
        return keys[bisect.bisect_right(keys, edge) :]
    return keys[: bisect.bisect_left(keys, edge)][::-1]


def _between(query: dict, ordering: Ordering, near: Edge | None, far: Edge | None, ascending: bool) -> list[dict]:
    """`query` narrowed to the keys from `near` to `far` in this walk (None: no bound on that side),
    as queries whose rows follow one another: `near`'s ties, the keys strictly between, `far`'s ties.
    Each is a condition on the key or its equality and one on `_id`: no `$or`, no `$and`."""
    field = ordering.field
    up, down = ("$gt", "$lt") if ascending else ("$lt", "$gt")

    def ties(edge: Edge, op: str, inclusive: bool) -> dict:
        return with_condition(with_condition(query, field, {"$eq": edge.value}), "_id", {op + "e" * inclusive: edge.id})

    if near is not None and far is not None and near.value == far.value:
        ids = {up + "e" * near.inclusive: near.id, down + "e" * far.inclusive: far.id}
        return [with_condition(with_condition(query, field, {"$eq": near.value}), "_id", ids)]
    between: dict[str, Any] = {}
    parts = []
    if near is not None:
        parts.append(ties(near, up, near.inclusive))
        between[up] = near.value
    if far is not None:
        between[down] = far.value
    parts.append(with_condition(query, field, between))
    if far is not None:
        parts.append(ties(far, down, far.inclusive))
    return parts


async def paginate(
    collection: AsyncCollection,
    query: dict,
    ordering: Ordering,
    limit: int,
    page: str | None,
    projection: dict[str, int] | None = None,
    driver: str | None = None,
    walk: Walk | None = None,
) -> Page:
    """One page of `query` in `ordering`; `projection` leaves fields out of the rows. A `driver`
    names a filtered field that matches fewer rows than the ordering's windows would read: each
    query is then led by its clause, without windows. A `walk` reads the rows instead of queries
    of `query`."""
    client, name = id(collection.database.client), collection.full_name
    key = (client, name, repr(query), ordering.name, limit, page, repr(projection), driver, walk is None)

    async def walk_queries(
        ascending: bool, start: Edge | None, limit: int, projection: dict[str, int] | None
    ) -> list[dict]:
        return await _walk(collection, query, ordering, ascending, start, limit, projection, driver)

    return await _PAGES.read(key, lambda: _read_page(walk or walk_queries, ordering, limit, page, projection))


async def _read_page(
    walk: Walk, ordering: Ordering, limit: int, page: str | None, projection: dict[str, int] | None
) -> Page:
    cursor = Cursor.decode(page, ordering) if page else None
    forward = cursor is None or cursor.direction == "next"
    start = None if cursor is None else Edge(cursor.value, cursor.id, cursor.inclusive)
    rows = await walk(ordering.ascending == forward, start, limit + 1, projection)
    more = len(rows) > limit
    rows = rows[:limit] if forward else rows[:limit][::-1]

    def edge(row: dict | None, direction: Direction, inclusive: bool = False) -> str:
        if row is not None:
            key = (row[ordering.field], row["_id"])
        else:
            assert cursor is not None, "only a page after a cursor can be empty"
            key = (cursor.value, cursor.id)
        return Cursor(ordering.name, direction, key[0], key[1], inclusive).encode()

    async def exists_beyond(row: dict, *, ahead: bool) -> bool:
        edge = Edge(row[ordering.field], row["_id"])
        return bool(await walk(ordering.ascending == ahead, edge, 1, {"_id": 1}))

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
