"""The Helm chart under test: where it is, what it must render, and lookups in its manifests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from fraudstream.common import names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CHART = DEPLOY / "helm" / "fraudstream"
RELEASE = "fraudstream"
NAMESPACE = "fraud"
# The console's HTTP and metrics ports (docs/architecture.md), until names.py carries them.
CONSOLE_PORTS = (getattr(names, "CONSOLE_PORT", 8080), getattr(names, "CONSOLE_METRICS_PORT", 9105))
PORTS: dict[str, tuple[int, int]] = {
    **{service: (port, names.METRICS_PORTS[service]) for service, port in names.GRPC_PORTS.items()},
    "console": CONSOLE_PORTS,
}
WORKLOADS = {
    "scorer": "Deployment",
    "ingest": "Deployment",
    "feedback": "StatefulSet",
    "learner": "StatefulSet",
    "console": "Deployment",
}
# Every feature the chart can switch on, for the renders that must cover all of them.
EVERYTHING = (
    "tls.enabled=true",
    "metrics.serviceMonitor.enabled=true",
    "kafka.strimziTopics.enabled=true",
    "auth.tokensFile.existingSecret=analyst-tokens-file",
    "auth.serviceTokens.existingSecret=service-tokens",
    "kafka.tls.enabled=true",
    "modelSigning.enabled=true",
)

Manifests = list[dict[str, Any]]


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120)


def find_manifest(manifests: Manifests, kind: str, name: str) -> dict[str, Any]:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def pod_spec(manifests: Manifests, service: str) -> dict[str, Any]:
    return find_manifest(manifests, WORKLOADS[service], f"{RELEASE}-{service}")["spec"]["template"][
        "spec"
    ]


def only_container(manifests: Manifests, service: str) -> dict[str, Any]:
    (container,) = pod_spec(manifests, service)["containers"]
    return container


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def compose_file() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())
