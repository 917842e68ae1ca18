"""The shapes of list and count queries: every bound on a field joins that field's one condition,
so no query has a top-level `$and` or `$or` (SecantusDB plans no such query; MongoDB bounds its
index scan the same either way)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidar_gateway.events.filters import ORDER_FIELDS as EVENT_ORDER_FIELDS
from vidar_gateway.events.filters import EventFilters
from vidar_gateway.listing import merged_condition, with_condition
from vidar_gateway.pagination import (
    CREATED_DATE_WINDOWS,
    Edge,
    Ordering,
    SortField,
    TextId,
    _anchor,
    _between,
    _beyond,
    _fences_ahead,
    _key_windows,
    leading_with,
)
from vidar_gateway.params import CalendarDateTime
from vidar_gateway.videos.filters import ORDER_FIELDS as VIDEO_ORDER_FIELDS
from vidar_gateway.videos.filters import VideoFilters

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 20, tzinfo=UTC)
# Orderings whose windows have no start, or none that reads the database, never touch it.
NO_COLLECTION = None


def test_two_date_bounds_are_one_field_condition() -> None:
    query = VideoFilters(created_date_gte=START, created_date_lt=END, name_contains="x").to_query(UTC, NOW)
    assert not any(key.startswith("$") for key in query)
    assert query["created_date"] == {"$gte": START, "$lt": END}


def test_event_date_bounds_are_one_field_condition() -> None:
    query = EventFilters(created_date_gt=START, created_date_lte=END).to_query("face", UTC, NOW)
    assert query == {"kind": "face", "created_date": {"$gt": START, "$lt": END + timedelta(milliseconds=1)}}


def test_an_inclusive_upper_bound_is_the_next_millisecond_excluded() -> None:
    # BSON dates hold milliseconds: `<= 10:00:00.123456` is `< 10:00:00.124`.
    bound = datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)
    condition = VideoFilters(created_date_lte=bound).created_date_condition(UTC, NOW)
    assert condition == {"$lt": datetime(2026, 11, 20, 10, 0, 0, 124000, tzinfo=UTC)}


def test_of_two_bounds_on_one_side_the_tighter_stays() -> None:
    week = VideoFilters(created_date_nth_full_week=1, created_date_gte=START, created_date_lt=END)
    assert week.created_date_condition(UTC, NOW) == {"$gte": datetime(2026, 11, 23, tzinfo=UTC), "$lt": END}


@pytest.mark.parametrize(
    ("first", "second", "merged"),
    [
        ({"$gte": 5}, {"$gt": 5}, {"$gt": 5}),
        ({"$gt": 5}, {"$gte": 5}, {"$gt": 5}),
        ({"$gte": 6}, {"$gt": 5}, {"$gte": 6}),
        ({"$lte": 5}, {"$lt": 5}, {"$lt": 5}),
        ({"$lt": 4}, {"$lte": 5}, {"$lt": 4}),
        ({"$in": [1, 2]}, {"$lt": 2}, {"$in": [1, 2], "$lt": 2}),
    ],
)
def test_merged_bounds_match_what_both_match(first: dict, second: dict, merged: dict) -> None:
    assert merged_condition(first, second) == merged


def test_an_equality_alone_stays_bare_and_joins_other_conditions() -> None:
    assert with_condition({"kind": "face"}, "quality", {"$eq": 0.5}) == {"kind": "face", "quality": 0.5}
    assert with_condition({"quality": {"$gte": 0.2}}, "quality", {"$eq": 0.5}) == {"quality": {"$gte": 0.2, "$eq": 0.5}}
    assert with_condition({"cluster": 3}, "cluster", {"$lt": 9}) == {"cluster": {"$eq": 3, "$lt": 9}}


def test_no_date_filter_adds_no_condition() -> None:
    assert VideoFilters().to_query(UTC, NOW) == {}


def test_a_cursor_on_created_date_joins_the_date_condition() -> None:
    query = EventFilters(created_date_gte=START).to_query("face", UTC, NOW)
    ordering = Ordering.parse("-created_date", EVENT_ORDER_FIELDS, TextId)
    edge = START + timedelta(days=3)
    ties, older = _beyond(query, ordering, edge, "e9", forward=True)
    assert ties == {"kind": "face", "created_date": {"$gte": START, "$eq": edge}, "_id": {"$lt": "e9"}}
    assert older == {"kind": "face", "created_date": {"$gte": START, "$lt": edge}}


def test_a_cursor_on_listed_ids_keeps_the_ids_beyond_it() -> None:
    # Point lookups of the ids left: SecantusDB reads the whole range of an `$in` with bounds.
    query = VideoFilters(id_in=[1, 5, 9]).to_query(UTC, NOW)
    ordering = Ordering.parse("-id", VIDEO_ORDER_FIELDS, int)
    assert _beyond(query, ordering, 5, 5, forward=False, inclusive=True) == [{"_id": {"$in": [5, 9]}}]


def test_a_page_is_read_in_consecutive_windows_from_its_cursor() -> None:
    query = EventFilters(video_archive=1, created_date_gte=START).to_query("face", UTC, NOW)
    ordering = Ordering.parse("-created_date", EVENT_ORDER_FIELDS, TextId)
    _, older = _beyond(query, ordering, END, "e9", forward=True)
    windows = list(_key_windows(older, ordering, ascending=False, anchor=END, found=[], wanted=21))
    conditions = [window["created_date"] for window in windows]
    assert conditions[0] == {"$gte": END - timedelta(seconds=1), "$lt": END}, "a burst's rows share an hour"
    assert conditions[1] == {"$gte": END - timedelta(seconds=9), "$lt": END - timedelta(seconds=1)}, "8x when empty"
    assert conditions[-1] == {"$gte": START, "$lt": conditions[-2]["$gte"]}, "the filter's bound ends the walk"
    assert all(window["video_id"] == 1 and window["kind"] == "face" for window in windows)


def test_windows_end_in_one_unbounded_query() -> None:
    ordering = Ordering.parse("-created_date", VIDEO_ORDER_FIELDS, int)
    windows = list(_key_windows({"name": "x"}, ordering, ascending=False, anchor=NOW, found=[], wanted=21))
    assert len(windows) == CREATED_DATE_WINDOWS.max_windows
    assert windows[0]["created_date"].keys() == {"$gte"}, "open on the near side: rows created meanwhile"
    assert windows[-1]["created_date"] == {"$lt": windows[-2]["created_date"]["$gte"]}


async def test_an_ordering_without_a_start_is_one_query() -> None:
    # Dates oldest first, with no kept span to start at (events start at storage's span instead).
    fields = {"created_date": SortField("created_date", CalendarDateTime, CREATED_DATE_WINDOWS)}
    oldest_first = Ordering.parse("created_date", fields, TextId)
    query = {"name": "x"}
    anchor = await _anchor(NO_COLLECTION, query, oldest_first, ascending=True)
    assert anchor is None
    assert list(_key_windows(query, oldest_first, ascending=True, anchor=anchor, found=[], wanted=21)) == [query]


def _matches(row: dict, query: dict) -> bool:
    """What MongoDB matches, for the shapes a walk between fences writes."""
    for field, condition in query.items():
        value = row[field]
        if not isinstance(condition, dict):
            condition = {"$eq": condition}
        for op, operand in condition.items():
            if not _OPS[op](value, operand):
                return False
    return True


_OPS = {
    "$eq": lambda value, operand: value == operand,
    "$gt": lambda value, operand: value > operand,
    "$gte": lambda value, operand: value >= operand,
    "$lt": lambda value, operand: value < operand,
    "$lte": lambda value, operand: value <= operand,
    "$in": lambda value, operand: value in operand,
}
NAMES = st.text(alphabet="ab", max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(NAMES, min_size=1, max_size=40),
    fenced=st.sets(st.integers(0, 39)),
    start=st.one_of(st.none(), st.tuples(NAMES, st.integers(-1, 41), st.booleans())),
    ascending=st.booleans(),
    group=st.one_of(st.none(), st.integers(0, 2)),
)
def test_windows_between_fences_read_every_row_beyond_the_start_once_in_order(
    names: list[str], fenced: set[int], start: tuple | None, ascending: bool, group: int | None
) -> None:
    """Ties of names among ids, fences anywhere (stale ones too), any start, either way, a filter."""
    rows = [{"sort_name": name, "_id": row_id, "camera_group": row_id % 3} for row_id, name in enumerate(names)]
    ordering = Ordering.parse("name" if ascending else "-name", VIDEO_ORDER_FIELDS, int)
    query = {} if group is None else {"camera_group": group}
    fences = sorted((names[i] if i < len(names) else "b", i) for i in fenced)
    edge = None if start is None else Edge(*start)

    def key(row: dict) -> tuple:
        return (row["sort_name"], row["_id"])

    def beyond(row: dict) -> bool:
        if edge is None:
            return True
        if edge.inclusive and key(row) == (edge.value, edge.id):
            return True
        return key(row) > (edge.value, edge.id) if ascending else key(row) < (edge.value, edge.id)

    expected = sorted((row for row in rows if beyond(row) and _matches(row, query)), key=key, reverse=not ascending)
    walked: list[dict] = []
    near = edge
    for far_key in [*_fences_ahead(fences, edge, ascending), None]:
        far = None if far_key is None else Edge(*far_key, inclusive=not ascending)
        for part in _between(query, ordering, near, far, ascending):
            walked += sorted((row for row in rows if _matches(row, part)), key=key, reverse=not ascending)
        near = None if far is None else Edge(far.value, far.id, inclusive=ascending)
    assert walked == expected


def test_ids_are_read_in_windows_of_whole_ids_down_from_the_counter() -> None:
    ordering = Ordering.parse("-id", VIDEO_ORDER_FIELDS, int)
    windows = list(_key_windows({"name": "x"}, ordering, ascending=False, anchor=10_001, found=[1, 2], wanted=21))
    assert windows[0]["_id"] == {"$gte": 10_001 - 64}, "open on the near side: archives created meanwhile"
    assert windows[1]["_id"] == {"$gte": 10_001 - 64 - 912, "$lt": 10_001 - 64}, "64 ids held 2 of 21: 19/2 x 1.5 more"
    assert all(isinstance(bound, int) for window in windows for bound in window["_id"].values())
    assert windows[-1]["_id"].keys() == {"$lt"}


def test_id_windows_end_before_bson_cannot_hold_their_bound() -> None:
    ordering = Ordering.parse("id", VIDEO_ORDER_FIELDS, int)
    windows = list(_key_windows({}, ordering, ascending=True, anchor=0, found=[1], wanted=1001))
    assert all(-(2**63) <= bound < 2**63 for window in windows for bound in window.get("_id", {}).values())
    assert windows[-1] == {"_id": {"$gte": windows[-2]["_id"]["$lt"]}}


def test_a_window_leads_with_its_key_for_the_embedded_planner() -> None:
    window = {"camera_group": {"$in": [1]}, "name": {"$regex": "x"}, "_id": {"$gte": 9_937}}
    assert list(leading_with(window, "_id")) == ["_id", "camera_group", "name"]
    assert leading_with(window, "_id") == window
    assert leading_with({"name": "x"}, "sort_name") == {"name": "x"}
