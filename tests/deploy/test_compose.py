"""docker-compose.yml and deploy/Dockerfile, checked by parsing (no Docker engine runs here)."""

import re
from pathlib import Path

import pytest
import yaml

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
    "VIDAR_NATS_URL",
    "VIDAR_S3_ENDPOINT",
    "VIDAR_S3_ACCESS_KEY",
    "VIDAR_S3_SECRET_KEY",
}


def service(name: str) -> dict:
    return COMPOSE["services"][name]


def test_the_servers_have_health_checks_and_persistent_volumes() -> None:
    for name, volume in (("nats", "nats-data"), ("mongo", "mongo-data"), ("minio", "minio-data")):
        assert "healthcheck" in service(name), name
        assert any(mount.startswith(f"{volume}:") for mount in service(name)["volumes"]), name
        assert volume in COMPOSE["volumes"]
    assert "--replSet" in service("mongo")["command"], "transactions need a replica set"
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
