"""Archives made in one burst (a script creating many at once: their created dates share a second)
listed in every ordering, page by page, and counted: the right rows, in the right order, and the
right numbers."""

import asyncio

import httpx
import pytest
from pymongo.database import Database

from tests.stack import Gateway

BURST = 90
IN_FLIGHT = 16
PAGE = 7
ORDERINGS = ("id", "-id", "name", "-name", "created_date", "-created_date")
# Ties of names, and of created dates, are broken by id.
SORT_FIELDS = {"id": "_id", "name": "sort_name", "created_date": "created_date"}


async def create_burst(gw: Gateway, camera_group: int, count: int) -> list[int]:
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    headers = {"Authorization": f"Token {gw.admin_token}"}
    async with httpx.AsyncClient(base_url=gw.url, headers=headers, limits=limits, timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post("/videos/", json={"camera_group": camera_group, "name": f"n{n % 13}"}) for n in range(count))
        )
    assert all(response.status_code == 201 for response in responses)
    return [response.json()["id"] for response in responses]


def every_page(api: httpx.Client, **params: object) -> list[int]:
    ids: list[int] = []
    body = api.get("/videos/", params={"limit": PAGE, **params}).json()
    while True:
        ids += [row["id"] for row in body["results"]]
        if body["next_page"] is None:
            return ids
        body = api.get("/videos/", params={"limit": PAGE, **params, "page": body["next_page"]}).json()


def expected(db: Database, ids: list[int], ordering: str) -> list[int]:
    field = SORT_FIELDS[ordering.removeprefix("-")]
    docs = db.videos.find({"_id": {"$in": ids}}, {field: 1})
    return [doc["_id"] for doc in sorted(docs, key=lambda d: (d[field], d["_id"]), reverse=ordering.startswith("-"))]


@pytest.fixture
def burst(gw: Gateway, camera_group: int) -> list[int]:
    return asyncio.run(create_burst(gw, camera_group, BURST))


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_a_burst_lists_in_every_ordering(
    api: httpx.Client, db: Database, camera_group: int, burst: list[int], ordering: str
) -> None:
    assert every_page(api, camera_groups=camera_group, ordering=ordering) == expected(db, burst, ordering)


def test_a_burst_counts_and_lists_newest_first_without_filters(
    api: httpx.Client, db: Database, camera_group: int, burst: list[int]
) -> None:
    assert api.get("/videos/count/", params={"camera_groups": camera_group}).json() == {"count": BURST}
    assert api.get("/videos/count/", params={"camera_groups": camera_group, "name_contains": "n1"}).json() == {
        "count": sum(1 for n in range(BURST) if "n1" in f"n{n % 13}")
    }
    unfiltered = api.get("/videos/count/").json()["count"]
    assert unfiltered == db.videos.count_documents({}), "the kept count is exact"
    moved, gone = burst[:2]
    assert api.patch(f"/videos/{moved}/", json={"camera_group": 1}).status_code == 200
    assert api.delete(f"/videos/{gone}/").status_code == 204
    assert api.get("/videos/count/", params={"camera_groups": camera_group}).json() == {"count": BURST - 2}
    assert api.get("/videos/count/").json() == {"count": unfiltered - 1}
    in_group_1 = db.videos.count_documents({"camera_group": 1})
    assert api.get("/videos/count/", params={"camera_groups": f"1,{camera_group},1"}).json() == {
        "count": in_group_1 + BURST - 2
    }
    newest = api.get("/videos/", params={"ordering": "-created_date", "limit": PAGE}).json()["results"]
    stored = db.videos.find({}, {"created_date": 1}).sort([("created_date", -1), ("_id", -1)]).limit(PAGE)
    assert [row["id"] for row in newest] == [doc["_id"] for doc in stored]
