"""deploy/compose.yaml validates with a real compose implementation; its ports come from .env."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from fraudstream.cli.kafka.admin import topic_partitions
from fraudstream.common import names

SERVICES = {
    "kafka",
    "kafka-init",
    "certs",
    "console",
    "scorer",
    "feedback",
    "learner",
    "ingest",
    "prometheus",
    "grafana",
}
# The fixed ports (docs/architecture.md), published on the host by default.
DEFAULT_PORTS = {
    "KAFKA_PORT": names.KAFKA_PORT,
    **{f"{service.upper()}_GRPC_PORT": port for service, port in names.GRPC_PORTS.items()},
    **{f"{service.upper()}_METRICS_PORT": port for service, port in names.METRICS_PORTS.items()},
    "CONSOLE_HTTP_PORT": names.CONSOLE_PORT,
    "CONSOLE_METRICS_PORT": names.CONSOLE_METRICS_PORT,
    "PROMETHEUS_PORT": names.PROMETHEUS_PORT,
    "GRAFANA_PORT": names.GRAFANA_PORT,
}
# Services that speak to each other over mutual TLS, each with its own certificate volume.
TLS_SERVICES = (*names.GRPC_PORTS, "console")


@pytest.fixture(scope="module")
def compose() -> list[str]:
    """The compose command: Debian's docker-compose (1.29, validates with no Docker engine)."""
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail(
            "docker-compose is not installed (make deps installs it): "
            "apt-get install docker-compose"
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
    # The four gRPC services, the console, and the certs init (a scorer image).
    assert rendered.count("dockerfile: deploy/docker/Dockerfile") == len(TLS_SERVICES) + 1
    for name in TLS_SERVICES:
        assert f"SERVICE: {name}" in rendered, name


def test_topics_created_by_the_init_container_are_the_pipelines(deploy_dir):
    text = (deploy_dir / "compose.yaml").read_text()
    specs = re.search(r"for spec in ([^;]+);", text)
    assert specs is not None
    topics = {name: int(count) for name, count in (s.split(":") for s in specs.group(1).split())}
    assert tuple(topics) == names.TOPICS
    # The partitions `fraudstream kafka start` gives them: ingest bridges share the busy ones.
    assert topics == topic_partitions()


def test_container_ports_and_addresses_are_the_fixed_ones(deploy_dir):
    """Inside compose every service listens on its own fixed port (its settings' default)."""
    text = (deploy_dir / "compose.yaml").read_text()
    published = dict(re.findall(r'"\$\{(\w+)\}:(\d+)"', text))
    assert {name: int(port) for name, port in published.items()} == DEFAULT_PORTS
    addresses = dict(re.findall(r"FRAUDSTREAM_(\w+)_ADDR: (\w+:\d+)", text))
    assert addresses == {
        "SCORER": f"scorer:{names.SCORER_PORT}",
        "FEEDBACK": f"feedback:{names.FEEDBACK_PORT}",
        "LEARNER": f"learner:{names.LEARNER_PORT}",
    }
    assert f"HOST://:{names.KAFKA_PORT}" in text


def _mount(volume: object) -> tuple[str, str]:
    """(source, target) of a rendered volume, long form or docker-compose 1.29's short one."""
    if isinstance(volume, dict):
        return str(volume["source"]), str(volume["target"])
    source, target = str(volume).split(":")[:2]
    return source.rsplit("/", 1)[-1] if source.startswith("/") else source, target


@pytest.mark.integration
def test_every_service_mounts_only_its_own_certificate_and_runs_mtls(compose, deploy_dir):
    rendered = yaml.safe_load(_config(compose, deploy_dir).stdout)
    services = rendered["services"]
    for name in TLS_SERVICES:
        service = services[name]
        env = service["environment"]
        assert env["FRAUDSTREAM_TLS_CERT"] == "/certs/tls.pem", name
        assert env["FRAUDSTREAM_TLS_KEY"] == "/certs/tls.key", name
        assert env["FRAUDSTREAM_TLS_CA"] == "/certs/ca.pem", name
        assert "FRAUDSTREAM_INSECURE_ALLOW_ANONYMOUS" not in env, name
        volumes = [_mount(v) for v in service["volumes"]]
        assert [source for source, target in volumes if target == "/certs"] == [f"certs-{name}"]
        assert not any(source == "certs-ca" for source, _ in volumes), name
    init = services["certs"]
    assert {_mount(v)[1] for v in init["volumes"]} >= {"/pki", "/auth"}
    assert [a for a in init["command"] if a not in ("--service",)][-len(TLS_SERVICES) :] == list(
        TLS_SERVICES
    )
    assert "/healthz" in " ".join(services["console"]["healthcheck"]["test"])
    # Models are signed: scorers verify with the public key, only the learner holds the private.
    assert init["command"][init["command"].index("--signing") + 1] == "/signing"
    assert "/signing" in {_mount(v)[1] for v in init["volumes"]}
    for name in ("scorer", "learner"):
        env = services[name]["environment"]
        assert env["FRAUDSTREAM_MODEL_VERIFY_KEYS"] == "/certs/model-signing.pub", name
    assert services["learner"]["environment"]["FRAUDSTREAM_MODEL_SIGNING_KEY"].startswith("/certs/")
    for name in set(TLS_SERVICES) - {"learner"}:
        assert "FRAUDSTREAM_MODEL_SIGNING_KEY" not in services[name]["environment"], name


@pytest.mark.integration
def test_kafka_is_mutual_tls_on_every_listener_and_every_service_uses_it(compose, deploy_dir):
    services = yaml.safe_load(_config(compose, deploy_dir).stdout)["services"]
    kafka = services["kafka"]["environment"]
    protocols = dict(
        entry.split(":") for entry in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    listeners = {entry.split("://")[0] for entry in kafka["KAFKA_LISTENERS"].split(",")}
    assert set(protocols) == listeners and set(protocols.values()) == {"SSL"}
    assert kafka["KAFKA_SSL_CLIENT_AUTH"] == "required"
    assert kafka["KAFKA_SSL_KEYSTORE_TYPE"] == kafka["KAFKA_SSL_TRUSTSTORE_TYPE"] == "PEM"
    assert kafka["KAFKA_SSL_KEYSTORE_LOCATION"] == "/certs/keystore.pem"
    assert kafka["KAFKA_SSL_TRUSTSTORE_LOCATION"] == "/certs/ca.pem"
    # A listener named SSL would make the image's start script demand JKS password files.
    assert "SSL://" not in kafka["KAFKA_ADVERTISED_LISTENERS"]
    client_config = "/etc/fraudstream/kafka-client.properties"
    assert client_config in " ".join(services["kafka"]["healthcheck"]["test"])
    assert services["kafka-init"]["command"][0].count(f"--command-config {client_config}") == 2
    for name in ("kafka", "kafka-init"):
        mounts = dict(_mount(v)[::-1] for v in services[name]["volumes"])
        assert mounts["/certs"] == "certs-kafka", name
        assert mounts[client_config] == "client-tls.properties", name
    props = (deploy_dir / "kafka" / "client-tls.properties").read_text()
    assert "security.protocol=SSL" in props and "ssl.keystore.location=/certs/keystore.pem" in props
    for name in TLS_SERVICES:
        env = services[name]["environment"]
        assert env["FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SSL", name
        assert env["FRAUDSTREAM_KAFKA_SECURITY_SSL_CA"] == "/certs/ca.pem", name
        # Its own certificate: the broker knows each service by name.
        assert env["FRAUDSTREAM_KAFKA_SECURITY_SSL_CERT"] == env["FRAUDSTREAM_TLS_CERT"], name
        assert env["FRAUDSTREAM_KAFKA_SECURITY_SSL_KEY"] == env["FRAUDSTREAM_TLS_KEY"], name
    init = services["certs"]
    command = " ".join(init["command"])
    assert "--service kafka" in command and "--owner-for kafka=1000:1000" in command
    assert ("certs-kafka", "/out/kafka") in [_mount(v) for v in init["volumes"]]
