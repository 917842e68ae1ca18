"""/cards/humans/ and /cards/cars/ on the real stack: CRUD, filters, pages and counts, who may
write, and bad input named. Each test makes a watch list of its own and filters on it, so records
other tests make do not count."""

import httpx
import pytest
from pymongo.database import Database

from tests.gateway.test_watch_lists import client_of, new_watch_list
from tests.stack import Gateway
from vidar_gateway.auth import Role


@pytest.fixture
def watch_list(api: httpx.Client) -> int:
    return new_watch_list(api, name="cards")["id"]


def new_card(api: httpx.Client, watch_list: int, card_type: str = "humans", **fields: object) -> dict:
    response = api.post(f"/cards/{card_type}/", json={"name": "Jane Doe", "watch_lists": [watch_list], **fields})
    assert response.status_code == 201, response.text
    return response.json()


def listed(api: httpx.Client, card_type: str = "humans", **params: object) -> list[int]:
    response = api.get(f"/cards/{card_type}/", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("card_type", "counts"), [("humans", {"face_objects", "body_objects"}), ("cars", {"car_objects"})]
)
def test_a_record_is_created_read_changed_and_deleted(
    api: httpx.Client, watch_list: int, card_type: str, counts: set[str]
) -> None:
    created = new_card(api, watch_list, card_type, comment="seen twice", meta={"case": "A-1", "reward": 100})
    assert (created["name"], created["comment"], created["active"]) == ("Jane Doe", "seen twice", True)
    assert (created["watch_lists"], created["meta"]) == ([watch_list], {"case": "A-1", "reward": 100})
    assert {field: created[field] for field in counts} == dict.fromkeys(counts, 0)
    url = f"/cards/{card_type}/{created['id']}/"
    assert api.get(url).json() == created

    other_list = new_watch_list(api, name="cards 2")["id"]
    changed = api.patch(url, json={"active": False, "watch_lists": [watch_list, other_list]})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["active"], changed.json()["watch_lists"]) == (False, [watch_list, other_list])
    assert changed.json()["name"] == "Jane Doe"

    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404


def test_humans_and_cars_are_apart(api: httpx.Client, watch_list: int) -> None:
    human = new_card(api, watch_list)
    car = new_card(api, watch_list, "cars", name="AB 123")
    assert listed(api, watch_lists=watch_list) == [human["id"]]
    assert listed(api, "cars", watch_lists=watch_list) == [car["id"]]


def test_filters_combine(api: httpx.Client, watch_list: int) -> None:
    other_list = new_watch_list(api, name="cards other")["id"]
    jane = new_card(api, watch_list, name="Jane Doe")["id"]
    john = new_card(api, watch_list, name="John Doe", active=False)["id"]
    smith = new_card(api, other_list, name="Mr Smith")["id"]
    both = f"{watch_list},{other_list}"

    assert listed(api, watch_lists=watch_list) == [john, jane]
    assert listed(api, watch_lists=both) == [smith, john, jane]
    assert listed(api, watch_lists=both, active="true") == [smith, jane]
    assert listed(api, watch_lists=both, name_contains="DOE") == [john, jane]
    assert listed(api, watch_lists=both, id_in=f"{jane},{smith}") == [smith, jane]
    assert listed(api, watch_lists=both, ordering="created_date") == [jane, john, smith]
    assert listed(api, watch_lists=both, ordering="id") == [jane, john, smith]
    counted = api.get("/cards/humans/count/", params={"watch_lists": both, "name_contains": "doe"})
    assert counted.json() == {"count": 2}
    assert api.get("/cards/humans/count/", params={"id_in": jane}).json() == {"count": 1}


def test_records_are_paged(api: httpx.Client, watch_list: int) -> None:
    ids = [new_card(api, watch_list, name=f"paged {n}")["id"] for n in range(5)]
    seen, page = [], None
    while True:
        params = {"watch_lists": watch_list, "limit": 2, **({"page": page} if page else {})}
        body = api.get("/cards/humans/", params=params).json()
        seen += [row["id"] for row in body["results"]]
        if not (page := body["next_page"]):
            break
    assert seen == ids[::-1]
    assert api.get("/cards/humans/count/").json()["count"] >= 5


def test_viewers_read_operators_write_and_no_token_is_401(
    gw: Gateway, db: Database, api: httpx.Client, watch_list: int
) -> None:
    card_id = new_card(api, watch_list)["id"]
    with client_of(gw, db, Role.VIEWER) as viewer:
        assert viewer.get(f"/cards/humans/{card_id}/").status_code == 200
        for response in (
            viewer.post("/cards/humans/", json={"name": "x", "watch_lists": [watch_list]}),
            viewer.patch(f"/cards/humans/{card_id}/", json={"name": "x"}),
            viewer.delete(f"/cards/humans/{card_id}/"),
        ):
            assert (response.status_code, response.json()["code"]) == (403, "PERMISSION_DENIED")
    with client_of(gw, db, Role.OPERATOR) as operator:
        assert operator.patch(f"/cards/humans/{card_id}/", json={"comment": "by an operator"}).status_code == 200
    assert httpx.get(f"{gw.url}/cards/humans/").status_code == 401


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "x"}, "watch_lists"),
        ({"name": "x", "watch_lists": []}, "watch_lists"),
        ({"name": "x", "watch_lists": [9_000_000]}, "watch_lists"),
        ({"name": "", "watch_lists": ["LIST"]}, "name"),
        ({"name": "x" * 257, "watch_lists": ["LIST"]}, "name"),
        ({"name": "x", "watch_lists": ["LIST"], "meta": {"nested": {"a": 1}}}, "meta"),
        ({"name": "x", "watch_lists": ["LIST"], "meta": {"big": 2**63}}, "meta"),
        ({"name": "x", "watch_lists": ["LIST"], "face_objects": 3}, "face_objects"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api: httpx.Client, watch_list: int, body: dict, param: str) -> None:
    if "watch_lists" in body:  # "LIST" stands for the test's own
        body = {**body, "watch_lists": [watch_list if item == "LIST" else item for item in body["watch_lists"]]}
    response = api.post("/cards/humans/", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["param"].partition(".")[0] == param, response.text


def test_unknown_type_or_record_and_a_patch_to_a_missing_list(api: httpx.Client, watch_list: int) -> None:
    assert api.get("/cards/dogs/").status_code == 400
    unknown = api.get("/cards/humans/", params={"watch_list": watch_list})
    assert (unknown.status_code, unknown.json()["param"]) == (400, "watch_list")
    assert api.get("/cards/humans/9000000/").status_code == 404
    card_id = new_card(api, watch_list)["id"]
    response = api.patch(f"/cards/humans/{card_id}/", json={"watch_lists": [9_000_000]})
    assert (response.status_code, response.json()["param"]) == (400, "watch_lists")
    assert api.get(f"/cards/humans/{card_id}/").json()["watch_lists"] == [watch_list]
