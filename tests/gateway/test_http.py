"""HTTP itself: Allow on 405 and OPTIONS, malformed JSON, and the cap on JSON bodies."""

import importlib
import pkgutil
from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter

import vidar_gateway
from tests.stack import Gateway
from vidar_gateway.bodies import MAX_JSON_BYTES, JsonBodyRoute

Client = httpx.Client
JSON = {"Content-Type": "application/json"}


def allowed(response: httpx.Response) -> set[str]:
    return {method.strip() for method in response.headers["allow"].split(",")}


@pytest.mark.parametrize(
    ("method", "path", "methods"),
    [
        ("PATCH", "/videos/", {"GET", "POST", "OPTIONS"}),
        ("POST", "/videos/count/", {"GET", "OPTIONS"}),
        # Also routes of /videos/{video_id}/: the path's own route answers first (issue 24: a 415).
        ("PUT", "/videos/count/", {"GET", "OPTIONS"}),
        ("PATCH", "/videos/count/", {"GET", "OPTIONS"}),
        ("DELETE", "/videos/count/", {"GET", "OPTIONS"}),
        ("POST", "/videos/1/", {"GET", "PUT", "PATCH", "DELETE", "OPTIONS"}),
        ("GET", "/videos/1/upload/source_file/", {"PUT", "OPTIONS"}),
        ("PUT", "/videos/1/screenshot/", {"GET", "POST", "OPTIONS"}),
        ("DELETE", "/events/faces/", {"GET", "OPTIONS"}),
        ("POST", "/healthz", {"GET", "OPTIONS"}),
    ],
)
def test_405_allows_every_method_of_the_path(api: Client, method: str, path: str, methods: set[str]) -> None:
    response = api.request(method, path)
    assert (response.status_code, response.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
    assert allowed(response) == methods


def test_a_json_put_to_the_count_is_405_too(api: Client) -> None:
    response = api.put("/videos/count/", json={"camera_group": 1, "name": "count"})
    assert (response.status_code, allowed(response)) == (405, {"GET", "OPTIONS"})
    assert api.put("/videos/1/").status_code == 415, "the archive's own route still takes PUT"


@pytest.mark.parametrize(
    ("path", "methods"),
    [("/videos/", {"GET", "POST", "OPTIONS"}), ("/camera-groups/7/", {"GET", "PATCH", "DELETE", "OPTIONS"})],
)
def test_options_answers_with_the_allowed_methods(gw: Gateway, path: str, methods: set[str]) -> None:
    response = httpx.options(f"{gw.url}{path}")
    assert response.status_code == 204, "no token needed, as for a CORS preflight"
    assert allowed(response) == methods


def test_options_of_an_unknown_path_is_404(api: Client) -> None:
    assert api.options("/no/such/route/").status_code == 404


def test_malformed_json_names_the_body(api: Client) -> None:
    response = api.post("/videos/", content=b'{"camera_group": 1, "name": "x"', headers=JSON)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["param"]) == ("BAD_PARAM", "body")
    assert "character 31" in response.json()["desc"]


def oversized_body() -> bytes:
    return b'{"camera_group": 1, "name": "' + b"x" * (50 * 1024 * 1024) + b'"}'


def chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_json_body_over_the_cap_is_413(api: Client, declared: bool) -> None:
    body = oversized_body()
    response = api.post("/videos/", content=body if declared else chunks(body), headers=JSON)
    assert response.status_code == 413
    assert (response.json()["code"], response.json()["param"]) == ("TOO_LARGE", "body")
    assert api.get("/videos/", params={"limit": 1}).status_code == 200


def test_a_json_body_just_under_the_cap_is_read(api: Client) -> None:
    padding = MAX_JSON_BYTES - len(b'{"camera_group": 1, "name": "x", "": ""}')
    body = b'{"camera_group": 1, "name": "x", "' + b" " * padding + b'": ""}'
    response = api.post("/videos/", content=body, headers=JSON)
    assert (response.status_code, response.json()["code"]) == (400, "BAD_PARAM"), "parsed, then refused"


@pytest.mark.usefixtures("storage")  # it commits each upload
def test_a_video_upload_is_not_capped(api: Client) -> None:
    video = api.post("/videos/", json={"camera_group": 1, "name": "big"}).json()
    content = b"\0" * (2 * MAX_JSON_BYTES)
    response = api.put(
        f"/videos/{video['id']}/upload/source_file/", content=chunks(content), headers={"Content-Type": "video/mp4"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["file_size"] == len(content)


def test_every_route_that_parses_a_body_is_capped() -> None:
    routers = [
        module.router
        for info in pkgutil.walk_packages(vidar_gateway.__path__, "vidar_gateway.")
        if isinstance(getattr(module := importlib.import_module(info.name), "router", None), APIRouter)
    ]
    parsing = [route for router in routers for route in router.routes if getattr(route, "body_field", None)]
    assert len(parsing) >= 4, "POST, PUT and PATCH of archives, POST and PATCH of camera groups"
    assert all(isinstance(route, JsonBodyRoute) for route in parsing)
