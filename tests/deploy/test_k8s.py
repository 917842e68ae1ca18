"""deploy/k8s/base, validated offline against the Kubernetes schemas (kubernetes-validate)."""

import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.deploy.test_compose import COMPOSE, SERVICES
from vidar.bus import JOBS_STREAM

BASE = Path(__file__).parents[2] / "deploy" / "k8s" / "base"
KUSTOMIZATION = yaml.safe_load((BASE / "kustomization.yaml").read_text())
KUBERNETES = "1.30.0"


def documents() -> list[dict]:
    found = []
    for resource in KUSTOMIZATION["resources"]:
        found += [doc for doc in yaml.safe_load_all((BASE / resource).read_text()) if doc]
    return found


def env_file(path: Path) -> dict[str, str]:
    """A kustomize env file: NAME=value lines, # comments."""
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def generated_secrets() -> dict[str, dict[str, str]]:
    """The variables of each Secret that kustomize generates, as their example files name them."""
    return {
        generator["name"]: {
            key: value for env in generator["envs"] for key, value in env_file(BASE / f"{env}.example").items()
        }
        for generator in KUSTOMIZATION["secretGenerator"]
    }


DOCUMENTS = documents()
BY_KIND_AND_NAME = {(doc["kind"], doc["metadata"]["name"]): doc for doc in DOCUMENTS}
SECRETS = generated_secrets()


@pytest.mark.parametrize(
    "doc", [doc for doc in DOCUMENTS if doc["kind"] != "ScaledObject"], ids=lambda doc: doc["kind"]
)
def test_every_core_resource_is_valid(doc: dict) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


@pytest.mark.parametrize(("name", "settings"), SERVICES.items())
def test_each_service_has_probes_resources_and_only_settings_it_reads(name: str, settings: type) -> None:
    (container,) = BY_KIND_AND_NAME[("Deployment", name)]["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    variables = {item["name"] for item in container["env"]}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            variables |= set(BY_KIND_AND_NAME[("ConfigMap", source["configMapRef"]["name"])]["data"])
        else:
            variables |= set(SECRETS[source["secretRef"]["name"]])
    unknown = {key for key in variables if key.removeprefix("VIDAR_").lower() not in settings.model_fields}
    assert unknown == set()
    assert {"VIDAR_MONGO_URL", "VIDAR_NATS_URL", "VIDAR_S3_ENDPOINT", "VIDAR_S3_SECRET_KEY"} <= variables
    assert {"VIDAR_MONGO_PASSWORD", "VIDAR_NATS_PASSWORD"} <= variables
    assert ("VIDAR_ADMIN_TOKEN" in variables) == (name == "gateway")


def test_detectors_scale_on_the_job_queue_backlog_with_keda() -> None:
    scaled = BY_KIND_AND_NAME[("ScaledObject", "detector")]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == "detector"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "nats-jetstream"
    assert (trigger["metadata"]["stream"], trigger["metadata"]["consumer"]) == (JOBS_STREAM.name, "detectors")


def test_the_gateways_search_on_the_qdrant_statefulset_of_the_same_version_as_compose() -> None:
    qdrant = BY_KIND_AND_NAME[("StatefulSet", "qdrant")]
    (container,) = qdrant["spec"]["template"]["spec"]["containers"]
    assert container["image"] == COMPOSE["services"]["qdrant"]["image"]
    assert {mount["mountPath"] for mount in container["volumeMounts"]} == {"/qdrant/storage"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert qdrant["spec"]["serviceName"] == "qdrant-headless"
    assert BY_KIND_AND_NAME[("Service", "qdrant-headless")]["spec"]["clusterIP"] == "None"
    service_ports = {port["port"] for port in BY_KIND_AND_NAME[("Service", "qdrant")]["spec"]["ports"]}
    (gateway,) = BY_KIND_AND_NAME[("Deployment", "gateway")]["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in gateway["env"]}
    assert env["VIDAR_SEARCH_ENGINE"] == "qdrant"
    assert 6333 in service_ports
    assert env["VIDAR_QDRANT_URL"] == "http://qdrant.vidar.svc:6333"


def test_no_secret_has_a_default() -> None:
    """The base holds no Secret: kustomize makes them from env files kept out of git, whose
    examples leave every value to fill in."""
    assert not [doc for doc in DOCUMENTS if doc["kind"] == "Secret"]
    assert generated_secrets() == {
        "vidar-secrets": dict.fromkeys(
            ["VIDAR_NATS_PASSWORD", "VIDAR_MONGO_PASSWORD", "VIDAR_S3_ACCESS_KEY", "VIDAR_S3_SECRET_KEY"], ""
        ),
        "vidar-admin": {"VIDAR_ADMIN_TOKEN": ""},
    }
    config = BY_KIND_AND_NAME[("ConfigMap", "vidar-config")]["data"]
    assert not [key for key in config if any(word in key for word in ("PASSWORD", "SECRET", "TOKEN"))]
    for generator in KUSTOMIZATION["secretGenerator"]:
        for env in generator["envs"]:
            ignored = subprocess.run(["git", "check-ignore", "-q", str(BASE / env)], check=False)
            assert ignored.returncode == 0, f"{env} would be committed"
