"""Every route, enumerated from the app: no token, a bad token, a viewer writing, a revoked token."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.polling import eventually
from tests.stack import Gateway
from vidar_gateway.app import create_app
from vidar_gateway.auth import ROLE_KEPT_S

PUBLIC = {"/healthz", "/readyz"}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Every operation the app documents: a route added later is covered without editing this file.
ROUTES = sorted(
    (method.upper(), path)
    for path, operations in create_app().openapi()["paths"].items()
    if path not in PUBLIC
    for method in operations
)


def token_cli(gw: Gateway, *args: str) -> str:
    program = Path(sys.executable).parent / "vidar-gateway"
    done = subprocess.run(
        [str(program), "token", *args], env={**os.environ, **gw.env}, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def viewer_token(gw: Gateway) -> str:
    return token_cli(gw, "create", "--role", "viewer", "--name", "auth-matrix viewer")


@pytest.fixture(scope="module")
def paths(gw: Gateway) -> dict[str, str]:
    with gw.client() as api:
        video = api.post("/videos/", json={"camera_group": 1, "name": "auth"}).json()["id"]
        group = api.post("/camera-groups/", json={"name": "auth"}).json()["id"]
    return {"{video_id}": str(video), "{group_id}": str(group)}


def url(path: str, paths: dict[str, str]) -> str:
    for placeholder, value in paths.items():
        path = path.replace(placeholder, value)
    return path


def test_every_api_route_is_covered() -> None:
    assert {path for _, path in ROUTES} >= {"/videos/", "/videos/{video_id}/", "/videos/count/", "/camera-groups/"}


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("authorization", [None, "Token wrong-token", "Bearer test-admin-token", "Token"])
def test_missing_or_bad_token_is_401(
    gw: Gateway, paths: dict[str, str], method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.request(method, gw.url + url(path, paths), headers=headers, json={})
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_viewer_reads_but_cannot_write(
    gw: Gateway, paths: dict[str, str], viewer_token: str, method: str, path: str
) -> None:
    response = httpx.request(
        method, gw.url + url(path, paths), headers={"Authorization": f"Token {viewer_token}"}, json={}
    )
    if method in WRITES:
        assert response.status_code == 403
        assert response.json()["code"] == "PERMISSION_DENIED"
    else:
        assert response.status_code not in (401, 403), "a viewer may read"


def test_health_and_docs_need_no_token(gw: Gateway) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert httpx.get(gw.url + path).status_code == 200


def test_operator_writes_and_revoked_tokens_stop_working(gw: Gateway) -> None:
    token = token_cli(gw, "create", "--role", "operator", "--name", "short-lived")
    with gw.client(token) as api:
        assert api.post("/videos/", json={"camera_group": 1, "name": "by operator"}).status_code == 201
        assert "short-lived" in token_cli(gw, "list")
        assert token_cli(gw, "revoke", "short-lived") == "revoked 1 token(s)"
        # The gateway keeps a token's role for ROLE_KEPT_S seconds (vidar_gateway.auth).
        eventually(lambda: api.get("/videos/").status_code == 401, timeout=2 * ROLE_KEPT_S, what="the revocation")
