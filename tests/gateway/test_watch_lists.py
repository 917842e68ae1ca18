"""/watch-lists/ on the real stack: CRUD, pages and count, who may write, bad input named, and a list
that records are on refused deletion (409), as FindFace asks for its records to go first."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pymongo.database import Database

from tests.stack import Gateway
from vidar_gateway.auth import Role, digest


def client_of(gw: Gateway, db: Database, role: Role) -> httpx.Client:
    """A client whose token has `role`."""
    token = uuid.uuid4().hex
    # As TokenStore.add stores one (`vidar-gateway token list` reads each field).
    stored = {"_id": digest(token), "role": role.value, "name": f"records {role}", "created_date": datetime.now(UTC)}
    db.tokens.insert_one(stored)
    return gw.client(token)


@pytest.fixture
def viewer(gw: Gateway, db: Database) -> Iterator[httpx.Client]:
    with client_of(gw, db, Role.VIEWER) as client:
        yield client


@pytest.fixture
def operator(gw: Gateway, db: Database) -> Iterator[httpx.Client]:
    with client_of(gw, db, Role.OPERATOR) as client:
        yield client


def new_watch_list(api: httpx.Client, **fields: object) -> dict:
    response = api.post("/watch-lists/", json={"name": "wanted", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_watch_list_is_created_read_changed_and_deleted(api: httpx.Client, camera_group: int) -> None:
    created = new_watch_list(api, color="ff0000", acknowledge=True, camera_groups=[camera_group], face_threshold=0.7)
    assert created["name"] == "wanted"
    assert (created["active"], created["notify"], created["acknowledge"]) == (True, False, True)
    assert (created["color"], created["camera_groups"], created["comment"]) == ("ff0000", [camera_group], "")
    assert (created["face_threshold"], created["body_threshold"], created["car_threshold"]) == (0.7, None, None)
    list_id = created["id"]
    assert api.get(f"/watch-lists/{list_id}/").json() == created

    changed = api.patch(f"/watch-lists/{list_id}/", json={"active": False, "face_threshold": None})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["active"], changed.json()["face_threshold"], changed.json()["name"]) == (
        False,
        None,
        "wanted",
    )
    assert changed.json()["modified_date"] > created["modified_date"]

    assert api.delete(f"/watch-lists/{list_id}/").status_code == 204
    assert api.get(f"/watch-lists/{list_id}/").status_code == 404
    assert api.delete(f"/watch-lists/{list_id}/").status_code == 404


def test_watch_lists_are_paged_ordered_and_counted(api: httpx.Client) -> None:
    ids = [new_watch_list(api, name=f"paged {n}")["id"] for n in range(3)]
    before = api.get("/watch-lists/count/").json()["count"]
    assert before >= 3

    newest = api.get("/watch-lists/", params={"limit": 2}).json()
    assert [row["id"] for row in newest["results"]] == ids[:-3:-1]
    rest = api.get("/watch-lists/", params={"limit": 2, "page": newest["next_page"]}).json()
    assert rest["results"][0]["id"] == ids[0]
    oldest = api.get("/watch-lists/", params={"ordering": "created_date", "limit": 1000}).json()["results"]
    assert [row["id"] for row in oldest if row["id"] in ids] == ids

    api.delete(f"/watch-lists/{ids[0]}/")
    assert api.get("/watch-lists/count/").json() == {"count": before - 1}


def test_viewers_read_only_admins_write_and_no_token_is_401(
    gw: Gateway, api: httpx.Client, viewer: httpx.Client, operator: httpx.Client
) -> None:
    list_id = new_watch_list(api)["id"]
    assert viewer.get("/watch-lists/").status_code == 200
    assert viewer.get(f"/watch-lists/{list_id}/").status_code == 200
    for writer in (viewer, operator):
        for response in (
            writer.post("/watch-lists/", json={"name": "not theirs"}),
            writer.patch(f"/watch-lists/{list_id}/", json={"name": "not theirs"}),
            writer.delete(f"/watch-lists/{list_id}/"),
        ):
            assert (response.status_code, response.json()["code"]) == (403, "PERMISSION_DENIED")
    assert httpx.get(f"{gw.url}/watch-lists/").status_code == 401
    assert api.get(f"/watch-lists/{list_id}/").json()["name"] == "wanted"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "color": "red"}, "color"),
        ({"name": "x", "face_threshold": 1.5}, "face_threshold"),
        ({"name": "x", "camera_groups": [0]}, "camera_groups.0"),
        ({"name": "x", "camera_groups": [9_000_000]}, "camera_groups"),
        ({"name": "x", "active": "yes"}, "active"),
        ({"name": "x", "owner": "me"}, "owner"),
        ({}, "name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api: httpx.Client, body: dict, param: str) -> None:
    response = api.post("/watch-lists/", json=body)
    assert (response.status_code, response.json()["param"]) == (400, param), response.text


def test_a_patch_may_not_null_a_name(api: httpx.Client) -> None:
    list_id = new_watch_list(api)["id"]
    response = api.patch(f"/watch-lists/{list_id}/", json={"name": None})
    assert (response.status_code, response.json()["param"]) == (400, "name")


def test_a_list_with_records_is_not_deleted(api: httpx.Client) -> None:
    list_id = new_watch_list(api)["id"]
    card = api.post("/cards/humans/", json={"name": "on the list", "watch_lists": [list_id]}).json()
    response = api.delete(f"/watch-lists/{list_id}/")
    assert response.status_code == 409
    assert f"human record {card['id']}" in response.json()["desc"]

    assert api.delete(f"/cards/humans/{card['id']}/").status_code == 204
    assert api.delete(f"/watch-lists/{list_id}/").status_code == 204


def test_a_camera_group_a_list_covers_is_not_deleted(api: httpx.Client, camera_group: int) -> None:
    """Dropping the group from the list would leave it covering every camera: the delete is refused,
    naming the lists, until they are changed."""
    covering = [new_watch_list(api, camera_groups=[camera_group])["id"] for _ in range(2)]
    response = api.delete(f"/camera-groups/{camera_group}/")
    assert (response.status_code, response.json()["param"]) == (409, "id")
    assert all(str(list_id) in response.json()["desc"] for list_id in covering), response.json()
    assert api.get(f"/camera-groups/{camera_group}/").status_code == 200

    for list_id in covering:
        assert api.patch(f"/watch-lists/{list_id}/", json={"camera_groups": []}).status_code == 200
    assert api.delete(f"/camera-groups/{camera_group}/").status_code == 204
