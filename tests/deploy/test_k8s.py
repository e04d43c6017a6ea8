"""deploy/k8s validated offline: every object against the Kubernetes JSON schemas shipped in the
`kubernetes-validate` wheel (strict: an unknown or misspelt field fails), for the oldest and the
newest Kubernetes version we claim, plus the cross-references a schema cannot see (selectors,
names of ConfigMaps, Secrets and scale targets, resources and probes on every container, the
kustomization's file list and images)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

K8S = REPO / "deploy" / "k8s"
OLDEST = "1.27.0"
"""The oldest Kubernetes the manifests claim (autoscaling/v2 is GA since 1.23)."""


def _kubernetes_validate() -> Any:
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError as exc:  # part of the dev extra
        if os.environ.get("CI") == "true":
            pytest.fail(f"kubernetes-validate is not installed: {exc}")
        pytest.skip(f"kubernetes-validate is not installed: {exc}")
    return kubernetes_validate


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def objects() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                found.append((path.name, doc))
    return found


def object_id(entry: tuple[str, dict[str, Any]]) -> str:
    name, doc = entry
    return f"{name}:{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def test_there_is_something_to_validate() -> None:
    kinds = {doc["kind"] for _, doc in objects()}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "StatefulSet",
        "ConfigMap",
        "Secret",
    } <= kinds


@pytest.mark.parametrize("entry", objects(), ids=object_id)
@pytest.mark.parametrize("version", ["oldest", "latest"])
def test_object_matches_the_kubernetes_schema(
    entry: tuple[str, dict[str, Any]], version: str
) -> None:
    kv = _kubernetes_validate()
    wanted = OLDEST if version == "oldest" else kv.latest_version()
    _, doc = entry
    try:
        kv.validate(doc, wanted, strict=True)
    except kv.ValidationError as exc:
        pytest.fail(
            f"{object_id(entry)} against Kubernetes {wanted}: {exc.message} "
            f"at {'/'.join(str(p) for p in exc.path)}"
        )


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in objects() if doc["kind"] == kind}


def _pod_specs() -> dict[str, dict[str, Any]]:
    workloads = {**_by_kind("Deployment"), **_by_kind("StatefulSet")}
    return {name: doc["spec"]["template"] for name, doc in workloads.items()}


def test_workload_selectors_match_their_pods() -> None:
    for name, doc in {**_by_kind("Deployment"), **_by_kind("StatefulSet")}.items():
        selector = doc["spec"]["selector"]["matchLabels"]
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name


def test_services_select_a_workload_and_name_its_ports() -> None:
    pods = _pod_specs()
    for name, service in _by_kind("Service").items():
        selector = service["spec"]["selector"]
        targets = [
            w for w, pod in pods.items() if selector.items() <= pod["metadata"]["labels"].items()
        ]
        assert targets, f"service {name} selects no workload"
        port_names = {
            p["name"]
            for w in targets
            for c in pods[w]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, (name, port)


def test_every_container_has_requests_limits_and_probes() -> None:
    for name, pod in _pod_specs().items():
        for container in pod["spec"]["containers"]:
            where = f"{name}/{container['name']}"
            requests = container.get("resources", {}).get("requests", {})
            assert {"cpu", "memory"} <= requests.keys(), where
            assert "memory" in container["resources"].get("limits", {}), where
            assert "livenessProbe" in container, where
            assert "readinessProbe" in container or "startupProbe" in container, where
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True, name


def test_referenced_configmaps_secrets_and_scale_targets_exist() -> None:
    configmaps, secrets = _by_kind("ConfigMap"), _by_kind("Secret")
    for name, pod in _pod_specs().items():
        for container in pod["spec"]["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps, name
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, name
    deployments = _by_kind("Deployment")
    for name, hpa in _by_kind("HorizontalPodAutoscaler").items():
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments, name


def test_the_worker_reaches_a_docker_engine_and_the_redis_url_resolves() -> None:
    worker = _pod_specs()["referee-worker"]["spec"]
    mounts = {m["mountPath"] for m in worker["containers"][0]["volumeMounts"]}
    assert "/var/run/docker.sock" in mounts
    assert not worker.get("hostNetwork"), "workers must keep their own hostnames"
    config = _by_kind("ConfigMap")["referee-config"]["data"]
    host = config["REFEREE_REDIS_URL"].split("//")[1].split(":")[0]
    assert host in _by_kind("Service")


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert all((K8S / name).is_file() for name in listed)
    assert listed == {p.name for p in manifest_files()} - {"secret.example.yaml"}
    images = {i["name"] for i in kustomization["images"]}
    used = {c["image"] for pod in _pod_specs().values() for c in pod["spec"]["containers"]}
    assert used <= images
