"""Filters, ordering and cursor pagination of GET /videos/ on the real stack."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from pymongo.database import Database

from tests.bench.videos_api import keep_catalogue
from vidar_gateway.videos import catalogue

Client = httpx.Client


def set_created_date(db: Database, ids: list[int], at: datetime) -> None:
    """Written directly (the API never changes it), in the archives and in their catalogue entries."""
    db.videos.update_many({"_id": {"$in": ids}}, {"$set": {"created_date": at}})
    keep_catalogue(db, list(db.videos.find({"_id": {"$in": ids}}, catalogue.FIELDS)))


def create(api: Client, camera_group: int, name: str | None, **fields) -> int:
    response = api.post("/videos/", json={"camera_group": camera_group, "name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def listed_ids(api: Client, **params) -> list[int]:
    response = api.get("/videos/", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["results"]]


def count(api: Client, **params) -> int:
    return api.get("/videos/count/", params=params).json()["count"]


def page_ids(body: dict) -> list[int]:
    return [row["id"] for row in body["results"]]


def in_order(rows: list[int], reference: list[int]) -> bool:
    """Whether the rows the two lists share come in the same order."""
    common = set(rows) & set(reference)
    return [row for row in rows if row in common] == [row for row in reference if row in common]


def test_each_filter(api: Client, camera_group: int) -> None:
    alpha = create(api, camera_group, "Alpha (1).mp4", case=7)
    beta = create(api, camera_group, "beta.MP4")
    nameless = create(api, camera_group, None, case=8)
    group = {"camera_groups": camera_group}
    assert sorted(listed_ids(api, **group)) == [alpha, beta, nameless]
    assert listed_ids(api, **group, name_contains="ALPHA (1)") == [alpha]
    assert listed_ids(api, **group, name_contains=".mp4", ordering="id") == [alpha, beta]
    assert listed_ids(api, **group, name_contains="a.p") == [], "regex characters are literal"
    assert sorted(listed_ids(api, **group, case_in="7,8")) == [alpha, nameless]
    assert listed_ids(api, **group, id_in=[beta, nameless], case_in=8) == [nameless]
    assert sorted(listed_ids(api, id_in=f"{alpha},{beta}")) == [alpha, beta]
    assert count(api, **group, name_contains="mp4") == 2
    assert count(api, camera_groups=f"{camera_group},1") >= 3


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 1001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"ordering": "size"}, "ordering"),
        ({"id_in": "1,x"}, "id_in.1"),
        ({"created_date_gte": "yesterday"}, "created_date_gte"),
        ({"created_date_nth_full_week": 0}, "created_date_nth_full_week"),
        ({"page": "garbage"}, "page"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(api: Client, params: dict, param: str) -> None:
    response = api.get("/videos/", params=params)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["param"]) == ("BAD_PARAM", param)


def test_the_schema_of_page_admits_the_cursors_and_not_garbage(api: Client, camera_group: int) -> None:
    """What the OpenAPI schema allows is what the API takes: garbage fails the schema's pattern."""
    for name in ("a", "b"):
        create(api, camera_group, name)
    parameters = api.get("/openapi.json").json()["paths"]["/videos/"]["get"]["parameters"]
    page_schema = next(parameter for parameter in parameters if parameter["name"] == "page")["schema"]
    pattern = next(option["pattern"] for option in page_schema["anyOf"] if "pattern" in option)
    for ordering in ("id", "-id", "name", "-name", "created_date", "-created_date"):
        params = {"camera_groups": camera_group, "limit": 1, "ordering": ordering}
        cursor = api.get("/videos/", params=params).json()["next_page"]
        assert re.fullmatch(pattern, cursor), (ordering, cursor)
    assert not re.fullmatch(pattern, "garbage")
    for forged in ("garbage", "WyI"):  # the pattern's and the cursor's own check
        response = api.get("/videos/", params={"page": forged})
        assert (response.status_code, response.json()["param"]) == (400, "page")


def test_a_cursor_belongs_to_its_ordering(api: Client, camera_group: int) -> None:
    for name in ("a", "b"):
        create(api, camera_group, name)
    page = api.get("/videos/", params={"camera_groups": camera_group, "limit": 1, "ordering": "name"}).json()[
        "next_page"
    ]
    response = api.get("/videos/", params={"camera_groups": camera_group, "limit": 1, "ordering": "id", "page": page})
    assert (response.status_code, response.json()["param"]) == (400, "page")


def test_each_ordering_breaks_ties_by_id(api: Client, camera_group: int, db: Database) -> None:
    ids = [create(api, camera_group, name) for name in ("b", "a", "b", None, "c")]
    same_moment = datetime(2026, 1, 1, tzinfo=UTC)
    set_created_date(db, ids[:2], same_moment)
    by = {
        order: listed_ids(api, camera_groups=camera_group, ordering=order)
        for order in ("id", "-id", "name", "-name", "created_date", "-created_date")
    }
    assert by["id"] == ids
    assert by["-id"] == ids[::-1]
    assert by["name"] == [ids[3], ids[1], ids[0], ids[2], ids[4]], "null names first, ties by id"
    assert by["-name"] == by["name"][::-1]
    assert by["created_date"] == ids
    assert by["-created_date"] == [*ids[2:][::-1], ids[1], ids[0]]


@pytest.mark.parametrize("ordering", ["-id", "name", "-created_date"])
def test_pagination_survives_inserts_and_deletes_in_both_directions(
    api: Client, camera_group: int, ordering: str
) -> None:
    initial = [create(api, camera_group, f"row {index % 37:02d}") for index in range(260)]
    params = {"camera_groups": camera_group, "limit": 25, "ordering": ordering}
    inserted: list[int] = []
    deleted: set[int] = set()

    forward: list[int] = []
    body = api.get("/videos/", params=params).json()
    while True:
        forward += page_ids(body)
        if len(inserted) < 4:
            inserted.append(create(api, camera_group, f"row {len(inserted):02d} inserted"))
        if len(forward) == 50:
            deleted |= {forward[0], next(row for row in initial if row not in forward)}
            for row in deleted:
                assert api.delete(f"/videos/{row}/").status_code == 204
        if body["next_page"] is None:
            break
        body = api.get("/videos/", params={**params, "page": body["next_page"]}).json()

    assert len(forward) == len(set(forward)), "no row repeated"
    assert set(initial) - deleted <= set(forward), "no row lost"
    assert set(forward) <= set(initial) | set(inserted)
    assert in_order(forward, listed_ids(api, **params))

    backward = page_ids(body)[::-1]
    late = create(api, camera_group, "row 99 inserted while going back")
    while body["prev_page"] is not None:
        body = api.get("/videos/", params={**params, "page": body["prev_page"]}).json()
        backward += page_ids(body)[::-1]
    final = listed_ids(api, **params)
    assert len(backward) == len(set(backward)), "no row repeated"
    assert set(final) - {late} <= set(backward), "no row lost"
    assert in_order(backward[::-1], final)


def test_forward_then_backward_returns_the_same_pages(api: Client, camera_group: int) -> None:
    ids = [create(api, camera_group, f"v{index}") for index in range(53)]
    params = {"camera_groups": camera_group, "limit": 10, "ordering": "id"}
    pages = []
    body = api.get("/videos/", params=params).json()
    assert body["prev_page"] is None
    while True:
        pages.append([row["id"] for row in body["results"]])
        if body["next_page"] is None:
            break
        last_next = body["next_page"]
        body = api.get("/videos/", params={**params, "page": last_next}).json()
    assert [row for page in pages for row in page] == ids
    back_pages = []
    while body["prev_page"] is not None:
        body = api.get("/videos/", params={**params, "page": body["prev_page"]}).json()
        back_pages.append([row["id"] for row in body["results"]])
    assert back_pages == pages[-2::-1]


def test_date_filters_at_day_and_week_boundaries(api: Client, camera_group: int, db: Database) -> None:
    zone = ZoneInfo("UTC")  # the gateway's VIDAR_TIMEZONE in the tests
    now = datetime.now(zone)
    monday = datetime.combine(now.date() - timedelta(days=now.weekday()), datetime.min.time(), tzinfo=zone)
    stamps = {
        "this_monday_midnight": monday,
        "last_sunday_last_ms": monday - timedelta(milliseconds=1),
        "last_friday_last_ms": monday - timedelta(days=2, milliseconds=1),
        "last_saturday_noon": monday - timedelta(days=2) + timedelta(hours=12),
        "two_weeks_ago_monday": monday - timedelta(days=14),
    }
    ids = {}
    for label, stamp in stamps.items():
        ids[label] = create(api, camera_group, label)
        set_created_date(db, [ids[label]], stamp)

    def selected(**params) -> set[str]:
        found = set(listed_ids(api, camera_groups=camera_group, **params))
        return {label for label, video_id in ids.items() if video_id in found}

    assert selected(created_date_nth_full_week=1) == {"this_monday_midnight"}
    assert selected(created_date_nth_full_week=2) == {
        "last_sunday_last_ms",
        "last_friday_last_ms",
        "last_saturday_noon",
    }
    assert selected(created_date_nth_work_week=2) == {"last_friday_last_ms"}
    assert selected(created_date_nth_full_week=3) == {"two_weeks_ago_monday"}
    assert selected(created_date_gte=monday.isoformat()) == {"this_monday_midnight"}
    assert selected(created_date_gt=monday.isoformat()) == set()
    assert selected(created_date_lt=monday.isoformat()) == set(stamps) - {"this_monday_midnight"}
    assert selected(created_date_lte=monday.isoformat()) == set(stamps)
    day_before = (monday - timedelta(days=1)).isoformat()
    assert selected(created_date_gte=day_before, created_date_lt=monday.isoformat()) == {"last_sunday_last_ms"}
    within = now - monday + timedelta(days=1)
    assert "this_monday_midnight" in selected(created_date_last_n_days=within.days)
    assert "two_weeks_ago_monday" not in selected(created_date_last_n_days=within.days)


def test_each_ordering_and_filter_has_an_index(api: Client, db: Database) -> None:
    api.get("/videos/")  # the gateway is up, so its indexes exist
    keys = [list(index["key"].items()) for index in db.videos.list_indexes()]
    for field in ("created_date", "sort_name", "camera_group", "case"):
        assert [(field, 1), ("_id", 1)] in keys
    assert [("_id", 1)] in keys
    assert [("_id", 1), ("camera_group", 1)] in keys, "a range of ids on the embedded server"


def test_newest_first_pages_walk_every_span_of_dates(api: Client, camera_group: int, db: Database) -> None:
    """A page is read in windows of created_date: rows in the future, minutes, months and a century
    apart each come once and in order, whatever the page size and filters."""
    now = datetime.now(UTC).replace(microsecond=0)
    ages = [timedelta(days=-1), *(timedelta(minutes=m) for m in range(0, 50, 7)), timedelta(days=40)]
    ages += [timedelta(days=400), timedelta(days=400), timedelta(days=36000)]
    created, odd = {}, set()
    for index, age in enumerate(ages):
        video_id = create(api, camera_group, f"{'odd' if index % 2 else 'even'} {index}")
        created[video_id] = now - age
        odd |= {video_id} if index % 2 else set()
        set_created_date(db, [video_id], created[video_id])
    newest = sorted(created, key=lambda video_id: (created[video_id], video_id), reverse=True)

    def pages(limit: int, **filters) -> tuple[list[int], list[int]]:
        params = {"camera_groups": camera_group, "ordering": "-created_date", "limit": limit, **filters}
        body = api.get("/videos/", params=params).json()
        forward = page_ids(body)
        while body["next_page"]:
            body = api.get("/videos/", params={**params, "page": body["next_page"]}).json()
            forward += page_ids(body)
        backward = page_ids(body)[::-1]
        while body["prev_page"]:
            body = api.get("/videos/", params={**params, "page": body["prev_page"]}).json()
            backward += page_ids(body)[::-1]
        return forward, backward[::-1]

    for limit in (1, 3, 20):
        assert pages(limit) == (newest, newest)
    matching = [video_id for video_id in newest if video_id in odd]
    assert pages(2, name_contains="odd") == (matching, matching)
    since = (now - timedelta(days=41)).isoformat()
    recent = [video_id for video_id in newest if created[video_id] >= now - timedelta(days=41)]
    assert pages(2, created_date_gte=since) == (recent, recent)
    older = [video_id for video_id in newest if created[video_id] < now - timedelta(minutes=20)]
    assert pages(2, created_date_lt=(now - timedelta(minutes=20)).isoformat()) == (older, older)
