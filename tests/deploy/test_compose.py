"""docker-compose.yml and deploy/Dockerfile, checked by parsing (no Docker engine runs here)."""

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from vidar_detector.settings import DetectorSettings
from vidar_gateway.search.settings import SearchSettings
from vidar_scheduler.settings import SchedulerSettings
from vidar_storage.settings import StorageSettings

ROOT = Path(__file__).parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
SERVICES = {
    "gateway": SearchSettings,  # the gateway's settings with those of search
    "storage": StorageSettings,
    "scheduler": SchedulerSettings,
    "detector": DetectorSettings,
}
NEEDED = {
    "VIDAR_ENVIRONMENT",
    "VIDAR_HOST",
    "VIDAR_PORT",
    "VIDAR_MONGO_URL",
    "VIDAR_MONGO_PASSWORD",
    "VIDAR_NATS_URL",
    "VIDAR_NATS_PASSWORD",
    "VIDAR_S3_ENDPOINT",
    "VIDAR_S3_ACCESS_KEY",
    "VIDAR_S3_SECRET_KEY",
}
# A variable whose name says it holds a secret.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN")
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?P<rest>[^}]*)\}")


def service(name: str) -> dict:
    return COMPOSE["services"][name]


def test_the_servers_have_health_checks_and_persistent_volumes() -> None:
    for name, volume in (("nats", "nats-data"), ("mongo", "mongo-data"), ("minio", "minio-data")):
        assert "healthcheck" in service(name), name
        assert any(mount.startswith(f"{volume}:") for mount in service(name)["volumes"]), name
        assert volume in COMPOSE["volumes"]
    assert "--replSet" in " ".join(service("mongo")["command"]), "transactions need a replica set"
    assert "-js" in service("nats")["command"]
    assert "mc mb" in service("minio-bucket")["command"][0], "the bucket is created at start"


def test_the_gateways_search_index_is_on_a_pinned_qdrant_with_a_volume_and_a_health_check() -> None:
    qdrant = service("qdrant")
    assert re.fullmatch(r"qdrant/qdrant:v\d+\.\d+\.\d+", qdrant["image"])
    assert any(mount.startswith("qdrant-data:/qdrant/storage") for mount in qdrant["volumes"])
    assert "qdrant-data" in COMPOSE["volumes"]
    assert "healthcheck" in qdrant
    gateway = service("gateway")
    assert gateway["depends_on"]["qdrant"]["condition"] == "service_healthy"
    assert gateway["environment"]["VIDAR_QDRANT_URL"] == "http://qdrant:6333"
    assert gateway["environment"]["VIDAR_SEARCH_ENGINE"].endswith(":-qdrant}"), "qdrant unless told otherwise"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_built_from_its_target_and_starts_after_healthy_servers(name: str) -> None:
    build = service(name)["build"]
    assert (build["dockerfile"], build["target"]) == ("deploy/Dockerfile", name)
    assert re.search(rf"^FROM base AS {name}$", DOCKERFILE, re.MULTILINE)
    depends = service(name)["depends_on"]
    assert depends["nats"]["condition"] == depends["mongo"]["condition"] == "service_healthy"
    assert depends["minio-bucket"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize(("name", "settings"), SERVICES.items())
def test_every_variable_is_a_setting_of_the_service_and_the_needed_ones_are_set(name: str, settings: type) -> None:
    environment = service(name)["environment"]
    unknown = {key for key in environment if key.removeprefix("VIDAR_").lower() not in settings.model_fields}
    assert unknown == set(), f"{name} does not read {unknown}"
    assert set(environment) >= NEEDED
    assert environment["VIDAR_ENVIRONMENT"] == "production"
    assert int(environment["VIDAR_PORT"]) == settings.model_fields["port"].default


def test_the_images_run_as_a_user_with_a_health_check() -> None:
    assert "HEALTHCHECK" in DOCKERFILE
    for name in SERVICES:
        target = DOCKERFILE.split(f"FROM base AS {name}")[1].split("FROM ")[0]
        assert "USER vidar" in target, name


def test_the_detector_image_is_cpu_torch_by_default_with_weights_mounted_or_baked() -> None:
    assert re.search(r"^ARG TORCH_VARIANT=cpu$", DOCKERFILE, re.MULTILINE)
    assert "download.pytorch.org/whl/${TORCH_VARIANT}" in DOCKERFILE
    detector = DOCKERFILE.split("FROM base AS detector")[1]
    assert 'VOLUME ["/models"]' in detector
    baked = detector.split("FROM detector AS detector-with-models")[1]
    assert "COPY --from=models --chown=vidar . /models/" in baked


def test_the_gateway_needs_its_secrets_and_the_detector_scales() -> None:
    assert "VIDAR_ADMIN_TOKEN" in service("gateway")["environment"]
    assert "ports" not in service("detector"), "a published port would stop --scale detector=3"
    assert "container_name" not in service("detector")


def strings(node: object) -> list[str]:
    """Every string in a parsed YAML document, keys and values."""
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in strings(key) + strings(value)]
    if isinstance(node, list):
        return [text for item in node for text in strings(item)]
    return [node] if isinstance(node, str) else []


def test_no_secret_has_a_default_and_each_is_required() -> None:
    """A secret comes from `${NAME:?set NAME}`: compose refuses to start without it."""
    interpolated = [match for text in strings(COMPOSE) for match in INTERPOLATION.finditer(text)]
    secrets = {match["name"] for match in interpolated if SECRET_NAME.search(match["name"])}
    assert secrets == {"VIDAR_NATS_PASSWORD", "VIDAR_MONGO_PASSWORD", "VIDAR_S3_SECRET_KEY", "VIDAR_ADMIN_TOKEN"}
    for match in interpolated:
        if match["name"] in secrets:
            assert match["rest"] == f":?set {match['name']}", match[0]
    for name, definition in COMPOSE["services"].items():
        for key, value in definition.get("environment", {}).items():
            if SECRET_NAME.search(key):
                assert INTERPOLATION.fullmatch(value)["name"] in secrets, f"{name}: {key} is written out"


def test_nats_mongodb_and_minio_want_the_credentials_the_services_are_given() -> None:
    vidar = service("gateway")["environment"]
    nats = service("nats")["command"]
    assert nats[nats.index("--user") + 1] == vidar["VIDAR_NATS_USER"]
    assert nats[nats.index("--pass") + 1] == vidar["VIDAR_NATS_PASSWORD"]
    mongo = service("mongo")
    assert mongo["environment"]["MONGO_INITDB_ROOT_USERNAME"] == vidar["VIDAR_MONGO_USER"]
    assert mongo["environment"]["MONGO_INITDB_ROOT_PASSWORD"] == vidar["VIDAR_MONGO_PASSWORD"]
    assert "--keyFile" in mongo["command"][0], "a replica set with access control needs a key file"
    assert "-u vidar -p" in mongo["healthcheck"]["test"][1]
    assert service("minio")["environment"]["MINIO_ROOT_PASSWORD"] == vidar["VIDAR_S3_SECRET_KEY"]


@pytest.mark.parametrize(("name", "settings"), SERVICES.items())
def test_a_service_given_no_credentials_refuses_to_start_and_names_them(
    name: str, settings: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compose environment with every variable of the .env file unset: compose itself refuses
    (`:?`), and so would the service's settings."""
    for key, value in service(name)["environment"].items():
        if "${" not in str(value):
            monkeypatch.setenv(key, str(value))
    with pytest.raises(ValidationError) as refused:
        settings()
    for needed in ("VIDAR_NATS_PASSWORD", "VIDAR_MONGO_PASSWORD", "VIDAR_S3_SECRET_KEY"):
        assert needed in str(refused.value)
