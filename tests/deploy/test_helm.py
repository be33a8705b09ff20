"""The Helm chart lints, renders, and names the ports, topics and settings of names.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudstream.common import certs, names
from fraudstream.common.grpc_server import build_grpc_service
from fraudstream.common.transport import Transport

pytestmark = pytest.mark.integration

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


@pytest.fixture(scope="module")
def helm() -> str:
    found = shutil.which("helm")
    if found is None:
        pytest.skip("helm is not installed (CI installs it with tools/install-helm.sh)")
    return found


def _helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def render(helm: str) -> Callable[..., Manifests]:
    """`helm template` with `--set` pairs; the manifests it prints, parsed."""

    def run(*values: str) -> Manifests:
        sets = [arg for value in values for arg in ("--set", value)]
        result = _helm(helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *sets)
        assert result.returncode == 0, result.stderr
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    return run


@pytest.fixture(scope="module")
def manifests(render: Callable[..., Manifests]) -> Manifests:
    return render()


def _find(manifests: Manifests, kind: str, name: str) -> dict[str, Any]:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def _pod(manifests: Manifests, service: str) -> dict[str, Any]:
    return _find(manifests, WORKLOADS[service], f"{RELEASE}-{service}")["spec"]["template"]["spec"]


def _container(manifests: Manifests, service: str) -> dict[str, Any]:
    (container,) = _pod(manifests, service)["containers"]
    return container


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_chart_lints_with_defaults_and_with_every_feature(helm: str) -> None:
    for values in ((), EVERYTHING):
        sets = [arg for value in values for arg in ("--set", value)]
        result = _helm(helm, "lint", "--strict", str(CHART), *sets)
        assert result.returncode == 0, result.stdout + result.stderr


def test_workloads_have_the_shape_the_scaling_rules_need(manifests: Manifests) -> None:
    for service, kind in WORKLOADS.items():
        _find(manifests, kind, f"{RELEASE}-{service}")
    scorer = _find(manifests, "Deployment", f"{RELEASE}-scorer")
    assert "replicas" not in scorer["spec"], "the HPA owns the scorers' replica count"
    hpa = _find(manifests, "HorizontalPodAutoscaler", f"{RELEASE}-scorer")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{RELEASE}-scorer",
    }
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    for service in ("feedback", "learner"):
        stateful = _find(manifests, "StatefulSet", f"{RELEASE}-{service}")["spec"]
        assert stateful["replicas"] == 1
        (claim,) = stateful["volumeClaimTemplates"]
        mounts = {m["name"]: m["mountPath"] for m in _container(manifests, service)["volumeMounts"]}
        assert (
            mounts[claim["metadata"]["name"]]
            == _env(_container(manifests, service))["FRAUDSTREAM_DATA_DIR"]
        )
        headless = _find(manifests, "Service", stateful["serviceName"])
        assert headless["spec"]["clusterIP"] == "None"
    assert not [m for m in manifests if m["kind"] in {"KafkaTopic", "ServiceMonitor", "ConfigMap"}]


def test_ports_are_those_of_names_py(manifests: Manifests) -> None:
    for service, (port, metrics_port) in PORTS.items():
        container = _container(manifests, service)
        assert sorted(p["containerPort"] for p in container["ports"]) == sorted(
            (port, metrics_port)
        ), service
        env = _env(container)
        assert (env["FRAUDSTREAM_PORT"], env["FRAUDSTREAM_METRICS_PORT"]) == (
            str(port),
            str(metrics_port),
        )
        assert env["FRAUDSTREAM_HOST"] == "0.0.0.0"
        service_ports = _find(manifests, "Service", f"{RELEASE}-{service}")["spec"]["ports"]
        assert sorted(p["port"] for p in service_ports) == sorted((port, metrics_port)), service
        annotations = _find(manifests, WORKLOADS[service], f"{RELEASE}-{service}")["spec"][
            "template"
        ]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(metrics_port)
        if service in names.GRPC_PORTS:
            for probe in ("readinessProbe", "livenessProbe"):
                assert container[probe]["grpc"] == {"port": port}, (service, probe)


def test_every_setting_compose_gives_a_service_the_chart_gives_it_too(
    render: Callable[..., Manifests],
) -> None:
    # Compose runs with mTLS and a tokens file: the chart with those switched on.
    manifests = render(*EVERYTHING)
    compose = _compose()["services"]
    for service in WORKLOADS.keys() & compose.keys():
        environment = compose[service].get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        wanted = {name for name in environment if name.startswith("FRAUDSTREAM_")}
        assert wanted, service
        given = _env(_container(manifests, service))
        assert wanted <= given.keys(), (service, wanted - given.keys())
        container_ports = {int(p.split(":")[-1]) for p in compose[service].get("ports", [])}
        assert container_ports == set(PORTS[service]), service
        for mount in compose[service].get("volumes", []):
            if mount.endswith(":/models:ro"):
                assert given["FRAUDSTREAM_MODELS"] == "/models"
                (models,) = [
                    m
                    for m in _container(manifests, service)["volumeMounts"]
                    if m["name"] == "models"
                ]
                assert models["readOnly"] is True


def test_clients_reach_the_services_the_chart_names(manifests: Manifests) -> None:
    for service in WORKLOADS:
        env = _env(_container(manifests, service))
        scorer = re.fullmatch(
            r"dns:///([^.]+)\.fraud\.svc\.cluster\.local:(\d+)", env["FRAUDSTREAM_SCORER_ADDR"]
        )
        assert scorer is not None, env["FRAUDSTREAM_SCORER_ADDR"]
        headless = _find(manifests, "Service", scorer.group(1))["spec"]
        assert headless["clusterIP"] == "None"
        assert headless["selector"]["app.kubernetes.io/component"] == "scorer"
        assert int(scorer.group(2)) == names.SCORER_PORT
        for target in ("feedback", "learner"):
            host, port = env[f"FRAUDSTREAM_{target.upper()}_ADDR"].rsplit(":", 1)
            name, namespace = host.split(".")[:2]
            assert (name, namespace, int(port)) == (
                f"{RELEASE}-{target}",
                NAMESPACE,
                names.GRPC_PORTS[target],
            )
            assert (
                _find(manifests, "Service", name)["spec"]["selector"]["app.kubernetes.io/component"]
                == target
            )


def test_topics_are_those_of_names_py_and_compose(render: Callable[..., Manifests]) -> None:
    manifests = render("kafka.strimziTopics.enabled=true")
    env = _env(_container(manifests, "ingest"))
    assert [
        env["FRAUDSTREAM_TRANSACTIONS_TOPIC"],
        env["FRAUDSTREAM_SCORED_TOPIC"],
        env["FRAUDSTREAM_ALERTS_TOPIC"],
        env["FRAUDSTREAM_DLQ_TOPIC"],
    ] == [names.TRANSACTIONS, names.TRANSACTIONS_SCORED, names.FRAUD_ALERTS, names.TRANSACTIONS_DLQ]
    topics = {
        m["spec"]["topicName"]: m["spec"]["partitions"]
        for m in manifests
        if m["kind"] == "KafkaTopic"
    }
    assert set(topics) == set(names.TOPICS)
    init = " ".join(_compose()["services"]["kafka-init"]["command"])
    specs = re.search(r"for spec in ([^;]+);", init)
    assert specs is not None
    assert topics == {t: int(p) for t, p in (spec.split(":") for spec in specs.group(1).split())}


def test_more_bridges_than_partitions_are_refused(helm: str) -> None:
    result = _helm(helm, "template", RELEASE, str(CHART), "--set", "ingest.replicas=5")
    assert result.returncode != 0
    assert "exceeds the partitions of transactions (4)" in result.stderr
    allowed = _helm(helm, "template", RELEASE, str(CHART), "--set", "ingest.replicas=4")
    assert allowed.returncode == 0, allowed.stderr


def test_with_tls_every_service_mounts_its_certificate_secret(
    render: Callable[..., Manifests],
) -> None:
    manifests = render("tls.enabled=true", "tls.secrets.learner=learner-from-cert-manager")
    for service in WORKLOADS:
        pod = _pod(manifests, service)
        secret = "learner-from-cert-manager" if service == "learner" else f"{RELEASE}-{service}-tls"
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == secret
        (container,) = pod["containers"]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["tls"]["readOnly"] is True
        directory = mounts["tls"]["mountPath"]
        env = _env(container)
        assert {env[f"FRAUDSTREAM_TLS_{part}"] for part in ("CERT", "KEY", "CA")} == {
            f"{directory}/tls.crt",
            f"{directory}/tls.key",
            f"{directory}/ca.crt",
        }
        if service != "console":
            # The kubelet's grpc probe has no client certificate: the chart's own probe runs.
            assert "grpc" not in container["readinessProbe"]
            assert container["readinessProbe"]["exec"]["command"][-1].endswith("grpc_probe.py")
    plain = _env(_container(render(), "scorer"))
    assert not [name for name in plain if name.startswith("FRAUDSTREAM_TLS_")]


def test_pods_run_unprivileged_with_bounded_resources(
    render: Callable[..., Manifests],
) -> None:
    manifests = render(*EVERYTHING)
    for service in WORKLOADS:
        pod = _pod(manifests, service)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        for container in pod["containers"] + pod.get("initContainers", []):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert {"requests", "limits"} <= container["resources"].keys(), service
        env = _env(pod["containers"][0])
        assert env["FRAUDSTREAM_SERVICE_TOKEN"]["secretKeyRef"]["key"] == service
        if service in ("feedback", "console"):
            assert env["FRAUDSTREAM_ANALYST_TOKENS_FILE"].startswith("/etc/fraudstream/auth/")


def test_images_per_service_or_one_image_with_a_command(render: Callable[..., Manifests]) -> None:
    per_service = render("image.repository=registry.example/fraudstream", "image.tag=1.2.3")
    single = render("image.mode=single", "image.repository=registry.example/fraudstream")
    for service in WORKLOADS:
        container = _container(per_service, service)
        assert container["image"] == f"registry.example/fraudstream/{service}:1.2.3"
        assert "command" not in container
        container = _container(single, service)
        assert container["image"].startswith("registry.example/fraudstream:")
        assert container["command"] == ["fraudstream", "serve", service]


def test_a_bundle_image_is_copied_into_a_read_only_volume(
    render: Callable[..., Manifests],
) -> None:
    manifests = render("models.existingClaim=", "models.image.repository=registry.example/bundle")
    for service in ("scorer", "learner"):
        pod = _pod(manifests, service)
        (init,) = pod["initContainers"]
        assert init["image"] == "registry.example/bundle:latest"
        assert init["command"] == ["cp", "-R", "/models/.", "/models/"]
        assert {v["name"]: v for v in pod["volumes"]}["models"] == {
            "name": "models",
            "emptyDir": {},
        }
        (models,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "models"]
        assert models["readOnly"] is True


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Transport, Any]]:
    """A real gRPC server under mutual TLS with the certificates `fraudstream certs` makes."""
    certs.make_certificates(tmp_path, names=("scorer",))
    scorer = certs.paths(tmp_path, "scorer")
    transport = Transport(scorer.cert, scorer.key, certs.paths(tmp_path, "ca").cert)
    service = build_grpc_service(
        host="127.0.0.1",
        port=0,
        max_workers=2,
        service_names=("fraudstream.v1.ScoringService",),
        register=lambda server: None,
        transport=transport,
    )
    service.start()
    yield transport, service
    service.stop(0)


def test_the_tls_probe_passes_only_when_the_server_is_serving(tls_server) -> None:
    transport, service = tls_server
    env = {
        **os.environ,
        "FRAUDSTREAM_PORT": str(service.port),
        "FRAUDSTREAM_TLS_CERT": str(transport.cert),
        "FRAUDSTREAM_TLS_KEY": str(transport.key),
        "FRAUDSTREAM_TLS_CA": str(transport.ca),
    }
    probe = [sys.executable, str(CHART / "files" / "grpc_probe.py")]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(probe, env=env, capture_output=True, text=True, timeout=30)

    starting = run()
    assert starting.returncode == 1, starting.stdout + starting.stderr
    assert "NOT_SERVING" in starting.stdout
    service.set_serving(True)
    serving = run()
    assert serving.returncode == 0, serving.stdout + serving.stderr
    assert serving.stdout.strip().endswith(": SERVING")
