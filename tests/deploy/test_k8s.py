"""deploy/k8s/base, validated offline against the Kubernetes schemas (kubernetes-validate)."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.deploy.test_compose import COMPOSE, SERVICES
from vidar.bus import JOBS_STREAM

BASE = Path(__file__).parents[2] / "deploy" / "k8s" / "base"
KUBERNETES = "1.30.0"


def documents() -> list[dict]:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    found = []
    for resource in kustomization["resources"]:
        found += [doc for doc in yaml.safe_load_all((BASE / resource).read_text()) if doc]
    return found


DOCUMENTS = documents()
BY_KIND_AND_NAME = {(doc["kind"], doc["metadata"]["name"]): doc for doc in DOCUMENTS}


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
            variables |= set(BY_KIND_AND_NAME[("Secret", source["secretRef"]["name"])]["stringData"])
    unknown = {key for key in variables if key.removeprefix("VIDAR_").lower() not in settings.model_fields}
    assert unknown == set()
    assert {"VIDAR_MONGO_URL", "VIDAR_NATS_URL", "VIDAR_S3_ENDPOINT", "VIDAR_S3_SECRET_KEY"} <= variables
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
