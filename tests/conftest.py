from collections.abc import Iterator

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from tests.stack import Gateway, gateway, servers
from vidar.devstack.servers import HOST, Ports


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ports]:
    with servers(tmp_path_factory.mktemp("servers")) as ports:
        yield ports


@pytest.fixture(scope="session")
def gw(stack: Ports, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with gateway(stack, tmp_path_factory.mktemp("gateway"), outbox_relay_interval="0.5") as running_gateway:
        yield running_gateway


@pytest.fixture
def api(gw: Gateway) -> Iterator[httpx.Client]:
    with gw.client() as client:
        yield client


@pytest.fixture(scope="session")
def db(stack: Ports) -> Iterator[Database]:
    with MongoClient(HOST, stack.mongo, tz_aware=True) as client:
        yield client["vidar"]


@pytest.fixture
def camera_group(api: httpx.Client) -> int:
    """A fresh camera group, so a test's archives are easy to select and count."""
    response = api.post("/camera-groups/", json={"name": "test group"})
    assert response.status_code == 201, response.text
    return response.json()["id"]
