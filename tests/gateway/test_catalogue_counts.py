"""Counts by name text and created date, read from the archive catalogue (vidar_gateway.videos.catalogue):
the same numbers as the stored archives give, after renames, moves and deletes, and after the
catalogue is rebuilt on a database that had none."""

import asyncio
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from pymongo import AsyncMongoClient
from pymongo.database import Database

from tests.gateway.test_burst_lists import case_of
from tests.stack import Gateway, mongo_url
from vidar.devstack.servers import Ports
from vidar_gateway.pagination import Edge, Ordering
from vidar_gateway.videos import catalogue
from vidar_gateway.videos.counts import ARCHIVE_COUNT, CATALOGUE_VERSION, CATALOGUED, ArchiveCounts
from vidar_gateway.videos.filters import ORDER_FIELDS

BURST = 40
MOMENT = datetime(2026, 5, 4, 3, 2, 1, 123000, tzinfo=UTC)


def stored_entries(db: Database, ids: list[int]) -> dict[str, str]:
    return {str(doc["_id"]): catalogue.entry(doc) for doc in db.videos.find({"_id": {"$in": ids}}, catalogue.FIELDS)}


def kept_entries(db: Database, ids: list[int]) -> dict[str, str]:
    pages = db.counters.find({"_id": {"$in": sorted({catalogue.page_id(video_id) for video_id in ids})}})
    wanted = {str(video_id) for video_id in ids}
    return {video_id: line for page in pages for video_id, line in page["by_id"].items() if video_id in wanted}


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def assert_counts_as_stored(api: httpx.Client, db: Database, camera_group: int, ids: list[int]) -> None:
    """Each filter takes the test's own archives by their names' token, since other tests write
    archives straight into the database, where the catalogue does not see them."""
    token = name_token(camera_group)
    dates = sorted(doc["created_date"] for doc in db.videos.find({"_id": {"$in": ids}}, {"created_date": 1}))
    middle = dates[len(dates) // 2]

    def named(text: str) -> dict[str, Any]:
        return {"name": {"$regex": re.escape(text), "$options": "i"}}

    for params, stored in (
        ({"name_contains": token.upper()}, named(token)),
        (
            {"name_contains": f"{token} N1", "camera_groups": camera_group},
            {**named(f"{token} n1"), "camera_group": camera_group},
        ),
        ({"name_contains": token, "created_date_gte": iso(middle)}, {**named(token), "created_date": {"$gte": middle}}),
        ({"name_contains": token, "created_date_gt": iso(middle)}, {**named(token), "created_date": {"$gt": middle}}),
        ({"name_contains": token, "created_date_lte": iso(middle)}, {**named(token), "created_date": {"$lte": middle}}),
        (
            {"name_contains": token, "created_date_lt": iso(middle), "created_date_last_n_days": 1},
            {**named(token), "created_date": {"$lt": middle}},
        ),
        (
            {"name_contains": token, "created_date_gte": iso(middle), "case_in": case_of(camera_group, 1)},
            {**named(token), "created_date": {"$gte": middle}, "case": case_of(camera_group, 1)},
        ),
    ):
        counted = api.get("/videos/count/", params=params).json()
        assert counted == {"count": db.videos.count_documents(stored)}, params


def name_token(camera_group: int) -> str:
    return f"catalogued{camera_group}x"


async def create_named_burst(gw: Gateway, camera_group: int, count: int) -> list[int]:
    headers = {"Authorization": f"Token {gw.admin_token}"}

    def archive(n: int) -> dict:
        name = f"{name_token(camera_group)} n{n % 13}"
        return {"camera_group": camera_group, "name": name, "case": case_of(camera_group, n)}

    async with httpx.AsyncClient(base_url=gw.url, headers=headers, timeout=60) as client:
        responses = await asyncio.gather(*(client.post("/videos/", json=archive(n)) for n in range(count)))
    assert all(response.status_code == 201 for response in responses)
    return [response.json()["id"] for response in responses]


@pytest.fixture
def burst(gw: Gateway, camera_group: int) -> list[int]:
    return asyncio.run(create_named_burst(gw, camera_group, BURST))


def test_counts_by_name_and_date_follow_changes(
    api: httpx.Client, db: Database, camera_group: int, burst: list[int]
) -> None:
    assert kept_entries(db, burst) == stored_entries(db, burst)
    assert_counts_as_stored(api, db, camera_group, burst)
    renamed, moved, recased, unnamed, gone = burst[:5]
    renaming = {"name": f"{name_token(camera_group)} N1 renamed"}
    assert api.patch(f"/videos/{renamed}/", json=renaming).status_code == 200
    assert api.patch(f"/videos/{moved}/", json={"camera_group": 1}).status_code == 200
    assert api.patch(f"/videos/{recased}/", json={"case": case_of(camera_group, 2)}).status_code == 200
    assert api.put(f"/videos/{unnamed}/", json={"camera_group": camera_group, "name": None}).status_code == 200
    assert api.delete(f"/videos/{gone}/").status_code == 204
    assert kept_entries(db, burst) == stored_entries(db, burst)
    assert_counts_as_stored(api, db, camera_group, burst)


def test_the_catalogue_is_rebuilt_on_a_database_without_one(
    api: httpx.Client, db: Database, stack: Ports, camera_group: int, burst: list[int]
) -> None:
    """As on a database made before the catalogue: its entries are read from the archives at start."""
    db.counters.update_one({"_id": ARCHIVE_COUNT}, {"$unset": {CATALOGUED: ""}})
    for video_id in burst:
        db.counters.update_one({"_id": catalogue.page_id(video_id)}, {"$unset": {catalogue.entry_path(video_id): ""}})

    async def ensure() -> None:
        client: AsyncMongoClient = AsyncMongoClient(mongo_url(stack), tz_aware=True)
        try:
            await ArchiveCounts(client["vidar"]).ensure()
        finally:
            await client.close()

    asyncio.run(ensure())
    assert db.counters.find_one({"_id": ARCHIVE_COUNT})[CATALOGUED] == CATALOGUE_VERSION
    assert kept_entries(db, burst) == stored_entries(db, burst)
    assert_counts_as_stored(api, db, camera_group, burst)


def test_another_gateways_creates_and_deletes_show_at_once(
    api: httpx.Client, db: Database, stack: Ports, gw: Gateway, camera_group: int, burst: list[int]
) -> None:
    """A second gateway's copy of the catalogue, read before, follows the first one's writes: the
    versions it reads with the counts say which pages changed."""
    named = {"name": {"$regex": re.escape(name_token(camera_group)), "$options": "i"}}
    selection = catalogue.conditions(named)
    assert selection is not None

    async def count_elsewhere() -> int:
        client: AsyncMongoClient = AsyncMongoClient(mongo_url(stack), tz_aware=True)
        try:
            counts = ArchiveCounts(client["vidar"])
            before = len((await counts.catalogued(selection))[1])
            more = await create_named_burst(gw, camera_group, 3)
            for gone in (burst[0], more[0]):
                assert (await asyncio.to_thread(api.delete, f"/videos/{gone}/")).status_code == 204
            after = len((await counts.catalogued(selection))[1])
            return after - before
        finally:
            await client.close()

    assert asyncio.run(count_elsewhere()) == 1
    assert db.videos.count_documents(named) == BURST + 1


def entry_of(created: datetime, camera_group: int, case: int | None, name: str | None) -> str:
    return catalogue.entry({"created_date": created, "camera_group": camera_group, "case": case, "name": name})


@pytest.mark.parametrize(
    ("query", "matched"),
    [
        ({"name": {"$regex": re.escape("a.b"), "$options": "i"}}, [True, False, False, False]),
        ({"name": {"$regex": "A", "$options": "i"}, "camera_group": 2}, [False, False, True, False]),
        ({"created_date": {"$gte": MOMENT}}, [True, False, True, True]),
        ({"created_date": {"$gt": MOMENT}}, [False, False, True, True]),
        ({"created_date": {"$lt": MOMENT + timedelta(microseconds=999)}}, [False, True, False, False]),
        ({"created_date": {"$gte": MOMENT}, "case": {"$in": [7, 8]}}, [True, False, False, True]),
        ({"created_date": {"$gte": MOMENT}, "case": 9}, [False, False, False, False]),
    ],
)
def test_an_entry_matches_as_the_archive_would(query: dict[str, Any], matched: list[bool]) -> None:
    entries = [
        entry_of(MOMENT, 1, 7, "a.b\x1fc"),
        entry_of(MOMENT - timedelta(milliseconds=1), 1, 7, "axb"),
        entry_of(MOMENT + timedelta(milliseconds=1), 2, None, "A"),
        entry_of(MOMENT + timedelta(days=1), 1, 8, None),
    ]
    selection = catalogue.conditions(query)
    assert selection is not None
    columns = catalogue.Columns.of({str(n): line for n, line in enumerate(entries)})
    assert selection.positions(columns).tolist() == [n for n, match in enumerate(matched) if match]


@pytest.mark.parametrize(
    "query",
    [
        {"name": {"$regex": "a", "$options": "i"}, "_id": {"$in": [1]}},
        {"name": {"$regex": "a", "$options": "i"}, "health_status.status": {"$in": ["QUEUED"]}},
        {"name": {"$regex": "a"}},
        {"created_date": {"$ne": MOMENT}},
    ],
)
def test_other_queries_are_left_to_the_archives(query: dict[str, Any]) -> None:
    assert catalogue.conditions(query) is None


def random_columns(rng: random.Random, count: int) -> catalogue.Columns:
    """Entries with shared names (some beyond ASCII) and created dates, so that ties are many."""
    names = ["Ärger", "harbor", "Harbor bay", "bay", "", "\u017ftation", "KELVIN", "x\x00y", "a.b"]
    lines = {
        str(video_id): entry_of(
            MOMENT + timedelta(milliseconds=rng.randrange(40)),
            1 + video_id % 3,
            video_id % 5 or None,
            rng.choice(names),
        )
        for video_id in rng.sample(range(1, 10 * count), count)
    }
    return catalogue.Columns.of(lines)


@pytest.mark.parametrize("text", ["harbor", "BAY", "ä", "s", "k", "\x00", ".", "r b"])
def test_names_searched_together_match_as_one_by_one(text: str) -> None:
    columns = random_columns(random.Random(text), 400)
    selection = catalogue.conditions({"name": {"$regex": re.escape(text), "$options": "i"}})
    assert selection is not None
    assert selection.name is not None
    expected = [row for row, name in enumerate(columns.names) if selection.name.pattern.search(name)]
    assert selection.positions(columns).tolist() == expected
    ascii_only = catalogue.Columns.of(
        {
            str(row): entry_of(MOMENT, 1, None, name.encode("ascii", "replace").decode())
            for row, name in enumerate(columns.names)
        }
    )
    expected = [row for row, name in enumerate(ascii_only.names) if selection.name.pattern.search(name)]
    assert selection.positions(ascii_only).tolist() == expected


@pytest.mark.parametrize("ordering_name", ["id", "-id", "created_date", "-created_date", "name", "-name"])
def test_pages_picked_in_memory_follow_the_ordering(ordering_name: str) -> None:
    """Page by page through cursors, forwards and from the last page back, as the archives sort."""
    columns = random_columns(random.Random(ordering_name), 300)
    ordering = Ordering.parse(ordering_name, ORDER_FIELDS, int)
    positions = np.flatnonzero(columns.cases != 2)
    key = {"_id": lambda row: (0,), "created_date": lambda row: (columns.created[row],)}.get(
        ordering.field, lambda row: (columns.names[row],)
    )
    rows = sorted(positions.tolist(), key=lambda row: (*key(row), columns.ids[row]), reverse=not ordering.ascending)
    by_id = {int(columns.ids[row]): row for row in rows}

    def edge(video_id: int, inclusive: bool = False) -> Edge:
        row = by_id[video_id]
        value = catalogue._YEAR_ONE + timedelta(milliseconds=int(columns.created[row]))
        return Edge(value if ordering.field == "created_date" else columns.names[row], video_id, inclusive)

    walked: list[int] = []
    start = None
    while page := catalogue.page_ids(columns, positions, ordering, ordering.ascending, start, 7):
        walked += page
        start = edge(page[-1])
    assert walked == [int(columns.ids[row]) for row in rows]
    backwards = catalogue.page_ids(columns, positions, ordering, not ordering.ascending, edge(walked[-1], True), 10)
    assert backwards == walked[::-1][:10]
