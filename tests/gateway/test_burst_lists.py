"""Archives made in one burst (a script creating many at once: their created dates share a second)
listed in every ordering, page by page, and counted: the right rows, in the right order, and the
right numbers."""

import asyncio

import httpx
import pytest
from pymongo.database import Database

from tests.stack import Gateway
from vidar_gateway.videos.name_fences import NAME_FENCES, is_fence

BURST = 90
IN_FLIGHT = 16
PAGE = 7
ORDERINGS = ("id", "-id", "name", "-name", "created_date", "-created_date")
# Ties of names, and of created dates, are broken by id.
SORT_FIELDS = {"id": "_id", "name": "sort_name", "created_date": "created_date"}


def case_of(camera_group: int, n: int) -> int:
    """Three cases of the test's own, in turn."""
    return camera_group * 10 + n % 3


async def create_burst(gw: Gateway, camera_group: int, count: int) -> list[int]:
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    headers = {"Authorization": f"Token {gw.admin_token}"}

    def archive(n: int) -> dict:
        return {"camera_group": camera_group, "name": f"n{n % 13}", "case": case_of(camera_group, n)}

    async with httpx.AsyncClient(base_url=gw.url, headers=headers, limits=limits, timeout=60) as client:
        responses = await asyncio.gather(*(client.post("/videos/", json=archive(n)) for n in range(count)))
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


def every_page_back(api: httpx.Client, **params: object) -> list[int]:
    """Every page, from the last one back to the first through prev_page, in the list's order."""
    body = api.get("/videos/", params={"limit": PAGE, **params}).json()
    while body["next_page"] is not None:
        body = api.get("/videos/", params={"limit": PAGE, **params, "page": body["next_page"]}).json()
    pages = [[row["id"] for row in body["results"]]]
    while body["prev_page"] is not None:
        body = api.get("/videos/", params={"limit": PAGE, **params, "page": body["prev_page"]}).json()
        pages.insert(0, [row["id"] for row in body["results"]])
    return [video_id for page in pages for video_id in page]


def expected(db: Database, ids: list[int] | None, ordering: str) -> list[int]:
    """`ids` (None: every archive) in `ordering`, ties by id."""
    field = SORT_FIELDS[ordering.removeprefix("-")]
    docs = db.videos.find({} if ids is None else {"_id": {"$in": ids}}, {field: 1})
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


@pytest.mark.parametrize("ordering", ["name", "-name"])
def test_every_archive_lists_by_name_between_fences_both_ways(
    api: httpx.Client, db: Database, burst: list[int], ordering: str
) -> None:
    """No filter: the walk between fences, across names shared by many archives (13 names)."""
    listed = every_page(api, ordering=ordering)
    assert listed == expected(db, None, ordering)
    assert every_page_back(api, ordering=ordering) == listed


def test_name_fences_follow_renames_and_deletes(api: httpx.Client, db: Database, burst: list[int]) -> None:
    fenced = [video_id for video_id in burst if is_fence(video_id)]
    others = [video_id for video_id in burst if not is_fence(video_id)]
    renamed, gone = (fenced + others)[:2]
    assert api.patch(f"/videos/{renamed}/", json={"name": "a renamed archive"}).status_code == 200
    assert api.delete(f"/videos/{gone}/").status_code == 204
    kept = db.counters.find_one({"_id": NAME_FENCES})["by_id"]
    stored = {str(doc["_id"]): doc["sort_name"] for doc in db.videos.find({"_id": {"$in": fenced}}, {"sort_name": 1})}
    assert {video_id: name for video_id, name in kept.items() if int(video_id) in burst} == stored
    assert every_page(api, ordering="name") == expected(db, None, "name")


def test_a_burst_counts_by_case_and_camera_group(
    api: httpx.Client, db: Database, camera_group: int, burst: list[int]
) -> None:
    cases = [case_of(camera_group, n) for n in range(3)]

    def assert_counts_as_stored() -> None:
        for params, stored in (
            ({"case_in": cases[0]}, {"case": cases[0]}),
            ({"case_in": f"{cases[0]},{cases[2]}"}, {"case": {"$in": [cases[0], cases[2]]}}),
            ({"case_in": cases[1], "camera_groups": f"{camera_group},1"}, {"case": cases[1]}),
            ({"case_in": cases[1], "camera_groups": 1}, {"case": cases[1], "camera_group": 1}),
            ({"camera_groups": camera_group}, {"camera_group": camera_group}),
        ):
            counted = api.get("/videos/count/", params=params).json()
            assert counted == {"count": db.videos.count_documents(stored)}, params

    assert_counts_as_stored()
    moved, recased, gone = burst[:3]
    assert api.patch(f"/videos/{moved}/", json={"camera_group": 1}).status_code == 200
    assert api.patch(f"/videos/{recased}/", json={"case": cases[2]}).status_code == 200
    assert api.put(f"/videos/{burst[3]}/", json={"camera_group": camera_group, "name": "no case"}).status_code == 200
    assert api.delete(f"/videos/{gone}/").status_code == 204
    assert_counts_as_stored()


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_filters_combined_list_and_count_the_matching_archives(
    api: httpx.Client, db: Database, camera_group: int, burst: list[int], ordering: str
) -> None:
    """Led by the case, the smallest clause, or read in windows: the same rows either way."""
    case = case_of(camera_group, 1)
    groups = f"{camera_group},1"
    filters = {"camera_groups": groups, "case_in": case, "name_contains": "N1", "created_date_last_n_days": 1}
    stored = {"case": case, "camera_group": {"$in": [camera_group, 1]}, "name": {"$regex": "n1"}}
    matching = [doc["_id"] for doc in db.videos.find(stored)]
    assert matching, "the filters match some archives"
    assert every_page(api, ordering=ordering, **filters) == expected(db, matching, ordering)
    assert every_page_back(api, ordering=ordering, **filters) == expected(db, matching, ordering)
    assert api.get("/videos/count/", params=filters).json() == {"count": len(matching)}
