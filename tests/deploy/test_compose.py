"""deploy/compose.yaml validates with a real compose implementation; its ports come from .env."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

SERVICES = {
    "kafka",
    "kafka-init",
    "scorer",
    "feedback",
    "learner",
    "ingest",
    "prometheus",
    "grafana",
}
# DESIGN.md's port numbers, published on the host by default.
DEFAULT_PORTS = {
    "KAFKA_PORT": 9092,
    "SCORER_GRPC_PORT": 50051,
    "FEEDBACK_GRPC_PORT": 50052,
    "LEARNER_GRPC_PORT": 50053,
    "INGEST_GRPC_PORT": 50054,
    "SCORER_METRICS_PORT": 9101,
    "FEEDBACK_METRICS_PORT": 9102,
    "LEARNER_METRICS_PORT": 9103,
    "INGEST_METRICS_PORT": 9104,
    "PROMETHEUS_PORT": 9090,
    "GRAFANA_PORT": 3000,
}


@pytest.fixture(scope="module")
def compose() -> list[str]:
    """The compose command: Debian's docker-compose (1.29, validates with no Docker engine)."""
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail(
            "docker-compose is not installed (.ci/run installs it): apt-get install docker-compose"
        )
    return [found]


def _config(compose: list[str], deploy_dir, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose, "-f", str(deploy_dir / "compose.yaml"), "config", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _env(deploy_dir) -> dict[str, str]:
    lines = (deploy_dir / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.mark.integration
def test_compose_file_is_valid(compose, deploy_dir):
    result = _config(compose, deploy_dir, "-q")
    assert result.returncode == 0, result.stderr
    assert "is not set" not in result.stderr, result.stderr


@pytest.mark.integration
def test_compose_has_kafka_the_services_prometheus_and_grafana(compose, deploy_dir):
    result = _config(compose, deploy_dir, "--services")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == SERVICES


def test_every_variable_comes_from_the_env_file(deploy_dir):
    used = set(re.findall(r"(?<!\$)\$\{(\w+)\}", (deploy_dir / "compose.yaml").read_text()))
    env = _env(deploy_dir)
    assert used <= env.keys(), used - env.keys()
    assert {name: int(env[name]) for name in DEFAULT_PORTS} == DEFAULT_PORTS


@pytest.mark.integration
def test_ports_and_mounts_resolve(compose, deploy_dir):
    rendered = _config(compose, deploy_dir).stdout
    for port in DEFAULT_PORTS.values():
        assert f"published: {port}" in rendered, port
    for mounted in ("prometheus", "grafana/provisioning", "grafana/dashboards"):
        assert (deploy_dir / mounted).is_dir()
        assert f"{deploy_dir / mounted}:" in rendered
    for name in ("scorer", "feedback", "learner", "ingest"):
        assert f"dockerfile: services/{name}/Dockerfile" in rendered


def test_topics_created_by_the_init_container_are_designs(deploy_dir):
    text = (deploy_dir / "compose.yaml").read_text()
    specs = re.search(r"for spec in ([^;]+);", text)
    assert specs is not None
    topics = dict(spec.split(":") for spec in specs.group(1).split())
    assert topics == {
        "transactions": "4",
        "transactions.scored": "4",
        "fraud.alerts": "1",
        "fraud.labels": "1",
        "transactions.dlq": "1",
    }
