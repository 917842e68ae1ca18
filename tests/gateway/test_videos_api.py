"""The contract's /videos/ endpoints against the real gateway, MongoDB, NATS and S3."""

import json
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.gateway.contract import contract_create_response
from vidar.models.stream_settings import BODY_FILTERS, FACE_FILTERS

Client = httpx.Client


def create(api: Client, **fields) -> dict:
    response = api.post("/videos/", json={"camera_group": 1, "name": "clip.mp4", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_contract_create_example_returns_the_contract_shape(api: Client, gw) -> None:
    response = api.post("/videos/", json={"camera_group": 1, "name": "Pitt&Jolie"})
    assert response.status_code == 201
    video = response.json()
    expected = contract_create_response()
    assert set(video) == set(expected)
    assert video["name"] == "Pitt&Jolie"
    assert video["screenshot"] == f"{gw.url}/videos/{video['id']}/screenshot/"
    assert video["health_status"] == {**expected["health_status"]}
    assert video["stream_settings"]["detectors"]["body"] is None
    assert datetime.fromisoformat(video["created_date"]).tzinfo is not None
    for field in ("active", "finished", "queued"):
        assert video[field] is False
    assert (video["face_count"], video["body_count"], video["car_count"], video["file_size"]) == (0, 0, 0, 0)


def test_get_list_count_patch_put_delete(api: Client, camera_group: int) -> None:
    video = create(api, camera_group=camera_group, name="first")
    # The scheduler, when the session runs it, may sync the archive in the meantime (milliseconds
    # since it reads and writes one archive by index): only its health_status may differ.
    got = api.get(f"/videos/{video['id']}/").json()
    assert {**got, "health_status": None} == {**video, "health_status": None}
    assert got["health_status"]["status"] in ("WAITING_FOR_SYNC", "NOT_STARTED")
    listed = api.get("/videos/", params={"camera_groups": camera_group}).json()
    assert [row["id"] for row in listed["results"]] == [video["id"]]
    assert api.get("/videos/count/", params={"camera_groups": camera_group}).json() == {"count": 1}

    patched = api.patch(f"/videos/{video['id']}/", json={"name": "renamed", "router_url": "http://example.test/in"})
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["router_url"]) == ("renamed", "http://example.test/in")
    assert patched.json()["created_date"] == video["created_date"]

    replaced = api.put(f"/videos/{video['id']}/", json={"camera_group": camera_group, "name": "replaced"}).json()
    assert replaced["router_url"] is None, "PUT resets what it leaves out"

    assert api.delete(f"/videos/{video['id']}/").status_code == 204
    assert api.get(f"/videos/{video['id']}/").status_code == 404
    assert api.delete(f"/videos/{video['id']}/").status_code == 404


def test_patch_merges_stream_settings_and_put_replaces_them(api: Client) -> None:
    video = create(api, stream_settings={"play_speed": 2, "detectors": {"body": {"jpeg_quality": 80}}})
    body = video["stream_settings"]["detectors"]["body"]
    assert body["filter_min_size"] == BODY_FILTERS.min_size != FACE_FILTERS.min_size, "completed with a body's defaults"
    assert video["stream_settings"]["detectors"]["face"] is not None, "unnamed detectors keep their defaults"

    patch = {"stream_settings": {"detectors": {"body": {"roi": "100x100+0+0"}, "face": None}}}
    merged = api.patch(f"/videos/{video['id']}/", json=patch).json()["stream_settings"]
    assert merged["play_speed"] == 2
    assert merged["detectors"]["body"]["jpeg_quality"] == 80
    assert merged["detectors"]["body"]["roi"] == "100x100+0+0"
    assert merged["detectors"]["face"] is None

    put = {"camera_group": 1, "name": "x", "stream_settings": {"detectors": {"car": {}}}}
    replaced = api.put(f"/videos/{video['id']}/", json=put).json()["stream_settings"]
    assert replaced["play_speed"] == -1
    assert replaced["detectors"]["body"] is None
    assert replaced["detectors"]["face"]["jpeg_quality"] == 95
    assert replaced["detectors"]["car"]["jpeg_quality"] == 95


def test_read_only_fields_are_never_taken_from_a_request(api: Client) -> None:
    video = create(api)
    sent_back = {**video, "id": 999999, "face_count": 42, "active": True, "error": "forged", "name": "edited"}
    updated = api.put(f"/videos/{video['id']}/", json=sent_back).json()
    assert (updated["id"], updated["face_count"], updated["active"], updated["error"]) == (video["id"], 0, False, None)
    assert updated["name"] == "edited"


def test_ids_are_never_reused(api: Client) -> None:
    first = create(api)
    assert api.delete(f"/videos/{first['id']}/").status_code == 204
    assert create(api)["id"] > first["id"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"camera_group": 1}, "name"),
        ({"camera_group": 1, "name": ""}, "name"),
        ({"camera_group": 1, "name": "x" * 257}, "name"),
        ({"camera_group": "one", "name": "x"}, "camera_group"),
        ({"camera_group": 424242, "name": "x"}, "camera_group"),
        ({"camera_group": 1, "name": "x", "url": "ftp://host/file.mp4"}, "url"),
        ({"camera_group": 1, "name": "x", "colour": "red"}, "colour"),
        ({"camera_group": 1, "name": "x", "stream_settings": {"play_speed": "fast"}}, "stream_settings.play_speed"),
        (
            {"camera_group": 1, "name": "x", "stream_settings": {"detectors": {"face": {"jpeg_quality": 101}}}},
            "stream_settings.detectors.face.jpeg_quality",
        ),
        (
            {"camera_group": 1, "name": "x", "stream_settings": {"detectors": {"face": {"bogus": 1}}}},
            "stream_settings.detectors.face.bogus",
        ),
        (
            {"camera_group": 1, "name": "x", "stream_settings": {"enable_recorder": True}},
            "stream_settings.enable_recorder",
        ),
    ],
)
def test_bad_bodies_are_400_naming_the_field(api: Client, body: dict, param: str) -> None:
    response = api.post("/videos/", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert set(error) == {"code", "desc", "param"}
    assert (error["code"], error["param"]) == ("BAD_PARAM", param)
    assert param.split(".")[-1] in error["desc"]


def test_error_shape_for_unknown_ids_methods_and_media_types(api: Client) -> None:
    missing = api.get("/videos/987654321/")
    assert (missing.status_code, missing.json()["code"], missing.json()["param"]) == (404, "NOT_FOUND", "id")
    assert api.get("/videos/abc/").json()["param"] == "video_id"
    assert api.post("/videos/count/").json()["code"] == "METHOD_NOT_ALLOWED"
    form = api.post("/videos/", content=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (form.status_code, form.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    broken = api.post("/videos/", content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert api.get("/no/such/route/").json()["code"] == "NOT_FOUND"


def test_camera_group_of_an_archive_must_exist_and_cannot_be_deleted_while_used(api: Client, camera_group: int) -> None:
    video = create(api, camera_group=camera_group)
    in_use = api.delete(f"/camera-groups/{camera_group}/")
    assert (in_use.status_code, in_use.json()["code"]) == (409, "CONFLICT")
    assert api.delete(f"/videos/{video['id']}/").status_code == 204
    assert api.delete(f"/camera-groups/{camera_group}/").status_code == 204
    assert api.patch(f"/videos/{create(api)['id']}/", json={"camera_group": camera_group}).status_code == 400


def test_camera_groups_resource(api: Client) -> None:
    created = api.post("/camera-groups/", json={"name": "Entrance", "comment": "north door"}).json()
    assert api.get(f"/camera-groups/{created['id']}/").json()["name"] == "Entrance"
    patched = api.patch(f"/camera-groups/{created['id']}/", json={"comment": "south door"}).json()
    assert (patched["name"], patched["comment"]) == ("Entrance", "south door")
    ids = [group["id"] for group in api.get("/camera-groups/", params={"limit": 1000}).json()["results"]]
    assert 1 in ids
    assert created["id"] in ids
    assert api.delete("/camera-groups/1/").status_code == 409
    assert api.delete(f"/camera-groups/{created['id']}/").status_code == 204
    assert api.get(f"/camera-groups/{created['id']}/").status_code == 404


def test_server_side_default_stream_settings(stack, tmp_path: Path) -> None:
    from tests.stack import gateway

    defaults = json.dumps({"play_speed": 1, "detectors": {"body": {"filter_min_size": 30}}})
    with gateway(stack, tmp_path, default_stream_settings=defaults) as custom, custom.client() as api:
        settings = create(api)["stream_settings"]
    assert settings["play_speed"] == 1
    assert settings["detectors"]["body"]["filter_min_size"] == 30
    assert settings["detectors"]["face"]["jpeg_quality"] == 95
