from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy  # noqa: F401 (loads its OpenBLAS, for the limit below)
import pytest
import scipy.linalg  # noqa: F401 (loads scipy's own OpenBLAS, for the limit below)
from _pytest.mark.expression import Expression
from pymongo import MongoClient
from pymongo.database import Database
from threadpoolctl import threadpool_limits

from tests.query_guard import read_records, violations
from tests.stack import Gateway, ServiceProcess, bucket_keys, gateway, mongo_url, servers, service
from vidar.command_log import COMMAND_LOG_ENV
from vidar.devstack.servers import Ports

# A test that needs one of these is an integration test: it runs against real servers (the
# session's stack and every service fixture built on it, or a module's own, which the modules that
# stop or kill servers name `own_stack`), or runs real model weights (`models`). Modules that start
# servers some other way set `pytestmark` themselves. The rest use in-memory pieces and real videos.
INTEGRATION_FIXTURES = {"stack", "own_stack", "models"}


def pytest_configure(config: pytest.Config) -> None:
    # OpenBLAS threads (one a core) only wait on each other for the small matrices of the tests
    # (deep_sort's gating and cosine distances, clustering, the search index): on two busy cores
    # they tripled deep_sort's time. Limited in this process only: the services the integration
    # tests start keep their own defaults.
    threadpool_limits(1, user_api="blas")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks the tests on real servers or weights `integration`, so `-m "not integration"` runs the
    rest fast, without the fetched weights."""
    for item in items:
        if INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


# Modules whose every test runs on the servers, and whose collection alone takes seconds
# (schemathesis builds the cases of each operation as it collects them): not even imported when
# the marker expression leaves the integration tests out.
SERVER_ONLY_MODULES = {Path(__file__).parent / "gateway" / "test_fuzz.py"}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path in SERVER_ONLY_MODULES and not integration_selected(config):
        return True
    return None  # pytest's other rules decide


def integration_selected(config: pytest.Config) -> bool:
    """Whether `-m` lets a test marked `integration`, and nothing else, run."""
    markexpr = config.getoption("markexpr")
    return not markexpr or Expression.compile(markexpr).evaluate(lambda name, **_: name == "integration")


@pytest.fixture(scope="session", autouse=True)
def query_shape_guard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every service started in this session records the shapes of its database commands; at the
    end, any shape the embedded server cannot serve from an index, and any write of an archive's
    field by a service that does not own it, fails the session, named by its call site
    (tests/query_guard.py)."""
    log_dir = tmp_path_factory.mktemp("mongo-commands")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(COMMAND_LOG_ENV, str(log_dir))
        yield
    if found := violations(read_records(log_dir)):
        pytest.fail(
            "database commands the embedded server reads every document for, or that write another"
            " service's fields:\n" + "\n".join(map(str, found))
        )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ports]:
    with servers(tmp_path_factory.mktemp("servers")) as ports:
        yield ports


# Low enough that a test can pass it, high enough for every test video.
MAX_SOURCE_BYTES = 20_000_000
VIDEOS = Path(__file__).parents[1] / ".cache" / "videos"
STORAGE_SETTINGS = {"url_allowlist": '["127.0.0.1"]', "url_timeout": "2", "max_source_bytes": str(MAX_SOURCE_BYTES)}


@pytest.fixture(scope="session")
def gw(stack: Ports, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    log_dir = tmp_path_factory.mktemp("gateway")
    # Webhooks may reach 127.0.0.1 (the tests' receivers), and are tried again after 0.1 s, 0.2 s...
    webhooks = {"url_allowlist": '["127.0.0.1"]', "webhook_backoff": "0.1"}
    with gateway(
        stack, log_dir, outbox_relay_interval="0.5", max_source_bytes=str(MAX_SOURCE_BYTES), **webhooks
    ) as running:
        yield running


@pytest.fixture(scope="session")
def storage(stack: Ports, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The storage service; URL sources may reach 127.0.0.1 (the tests' own HTTP servers)."""
    with service("vidar-storage", stack, tmp_path_factory.mktemp("storage"), **STORAGE_SETTINGS) as process:
        yield process


@pytest.fixture(scope="session")
def videos() -> Path:
    if not (VIDEOS / ".complete").exists():
        pytest.fail("the test videos are missing: `make test` fetches them (tests/data/fetch_videos.sh)")
    return VIDEOS


@pytest.fixture
def api(gw: Gateway) -> Iterator[httpx.Client]:
    with gw.client() as client:
        yield client


@pytest.fixture(scope="session")
def db(stack: Ports) -> Iterator[Database]:
    with MongoClient(mongo_url(stack), tz_aware=True) as client:
        yield client["vidar"]


@pytest.fixture
def camera_group(api: httpx.Client) -> int:
    """A fresh camera group, so a test's archives are easy to select and count."""
    response = api.post("/camera-groups/", json={"name": "test group"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="session")
def object_keys(stack: Ports) -> Callable[[str], list[str]]:
    """Lists the keys under a prefix in the bucket, straight from S3."""
    return bucket_keys(stack)


# Short enough that the crash tests finish quickly.
HEARTBEAT_TIMEOUT = "3"


@pytest.fixture(scope="session")
def scheduler(stack: Ports, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    log_dir = tmp_path_factory.mktemp("scheduler")
    settings = {"heartbeat_timeout": HEARTBEAT_TIMEOUT, "max_in_flight": "1", "tick": "0.2"}
    with service("vidar-scheduler", stack, log_dir, **settings) as process:
        yield process


MODELS = Path(__file__).parents[1] / ".cache" / "models"


@pytest.fixture(scope="session")
def models() -> Path:
    """The registry weights of tests/data/fetch_models.sh."""
    _require_models()
    return MODELS


def _require_models() -> None:
    if not (MODELS / ".complete").exists():
        pytest.fail("the model weights are missing: `make test` fetches them (tests/data/fetch_models.sh)")


def model_settings() -> dict[str, str]:
    """The registry weights of tests/data/fetch_models.sh, as `make run` names them (bodies and
    cars: the default, YOLOv5s, COCO, through onnxruntime)."""
    _require_models()
    coco = str(MODELS / "yolov5s.onnx")
    return {
        "body_model": coco,
        "car_model": coco,
        "face_model_prototxt": str(MODELS / "deploy.prototxt.txt"),
        "face_model_caffemodel": str(MODELS / "res10_300x300_ssd_iter_140000.caffemodel"),
        "appearance_model": str(MODELS / "mobilenetv2-bottleneck.onnx"),
        "attribute_models": str(MODELS),
    }


def detector_settings() -> dict[str, str]:
    # router_url may reach 127.0.0.1 (the tests' own receivers).
    return {"heartbeat_timeout": HEARTBEAT_TIMEOUT, "url_allowlist": '["127.0.0.1"]', **model_settings()}


@pytest.fixture(scope="session")
def detector(stack: Ports, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with service("vidar-detector", stack, tmp_path_factory.mktemp("detector"), **detector_settings()) as process:
        yield process


@pytest.fixture
def another_detector(stack: Ports, tmp_path: Path) -> Iterator[ServiceProcess]:
    """A second detector on the same work queue, for the tests of a job changing hands."""
    with service("vidar-detector", stack, tmp_path, **detector_settings()) as process:
        yield process
