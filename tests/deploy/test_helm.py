"""The Helm chart lints, renders, and names the ports, topics and settings of names.py."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from fraudstream.common import names

from .chart import (
    CHART,
    EVERYTHING,
    NAMESPACE,
    PORTS,
    RELEASE,
    WORKLOADS,
    Manifests,
    compose_file,
    env_of,
    find_manifest,
    only_container,
    run_helm,
)

pytestmark = pytest.mark.integration


def test_chart_lints_with_defaults_and_with_every_feature(helm: str) -> None:
    for values in ((), EVERYTHING):
        sets = [arg for value in values for arg in ("--set", value)]
        result = run_helm(helm, "lint", "--strict", str(CHART), *sets)
        assert result.returncode == 0, result.stdout + result.stderr


def test_workloads_have_the_shape_the_scaling_rules_need(manifests: Manifests) -> None:
    for service, kind in WORKLOADS.items():
        find_manifest(manifests, kind, f"{RELEASE}-{service}")
    scorer = find_manifest(manifests, "Deployment", f"{RELEASE}-scorer")
    assert "replicas" not in scorer["spec"], "the HPA owns the scorers' replica count"
    hpa = find_manifest(manifests, "HorizontalPodAutoscaler", f"{RELEASE}-scorer")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{RELEASE}-scorer",
    }
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    for service in ("feedback", "learner"):
        stateful = find_manifest(manifests, "StatefulSet", f"{RELEASE}-{service}")["spec"]
        assert stateful["replicas"] == 1
        (claim,) = stateful["volumeClaimTemplates"]
        mounts = {
            m["name"]: m["mountPath"] for m in only_container(manifests, service)["volumeMounts"]
        }
        assert (
            mounts[claim["metadata"]["name"]]
            == env_of(only_container(manifests, service))["FRAUDSTREAM_DATA_DIR"]
        )
        headless = find_manifest(manifests, "Service", stateful["serviceName"])
        assert headless["spec"]["clusterIP"] == "None"
    assert not [m for m in manifests if m["kind"] in {"KafkaTopic", "ServiceMonitor", "ConfigMap"}]


def test_ports_are_those_of_names_py(manifests: Manifests) -> None:
    for service, (port, metrics_port) in PORTS.items():
        container = only_container(manifests, service)
        assert sorted(p["containerPort"] for p in container["ports"]) == sorted(
            (port, metrics_port)
        ), service
        env = env_of(container)
        assert (env["FRAUDSTREAM_PORT"], env["FRAUDSTREAM_METRICS_PORT"]) == (
            str(port),
            str(metrics_port),
        )
        assert env["FRAUDSTREAM_HOST"] == "0.0.0.0"
        service_ports = find_manifest(manifests, "Service", f"{RELEASE}-{service}")["spec"]["ports"]
        assert sorted(p["port"] for p in service_ports) == sorted((port, metrics_port)), service
        annotations = find_manifest(manifests, WORKLOADS[service], f"{RELEASE}-{service}")["spec"][
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
    compose = compose_file()["services"]
    for service in WORKLOADS.keys() & compose.keys():
        environment = compose[service].get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        wanted = {name for name in environment if name.startswith("FRAUDSTREAM_")}
        assert wanted, service
        given = env_of(only_container(manifests, service))
        assert wanted <= given.keys(), (service, wanted - given.keys())
        container_ports = {int(p.split(":")[-1]) for p in compose[service].get("ports", [])}
        assert container_ports == set(PORTS[service]), service
        for mount in compose[service].get("volumes", []):
            if mount.endswith(":/models:ro"):
                assert given["FRAUDSTREAM_MODELS"] == "/models"
                (models,) = [
                    m
                    for m in only_container(manifests, service)["volumeMounts"]
                    if m["name"] == "models"
                ]
                assert models["readOnly"] is True


def test_clients_reach_the_services_the_chart_names(manifests: Manifests) -> None:
    for service in WORKLOADS:
        env = env_of(only_container(manifests, service))
        scorer = re.fullmatch(
            r"dns:///([^.]+)\.fraud\.svc\.cluster\.local:(\d+)", env["FRAUDSTREAM_SCORER_ADDR"]
        )
        assert scorer is not None, env["FRAUDSTREAM_SCORER_ADDR"]
        headless = find_manifest(manifests, "Service", scorer.group(1))["spec"]
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
                find_manifest(manifests, "Service", name)["spec"]["selector"][
                    "app.kubernetes.io/component"
                ]
                == target
            )


def test_topics_are_those_of_names_py_andcompose_file(render: Callable[..., Manifests]) -> None:
    manifests = render("kafka.strimziTopics.enabled=true")
    env = env_of(only_container(manifests, "ingest"))
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
    init = " ".join(compose_file()["services"]["kafka-init"]["command"])
    specs = re.search(r"for spec in ([^;]+);", init)
    assert specs is not None
    assert topics == {t: int(p) for t, p in (spec.split(":") for spec in specs.group(1).split())}


def test_more_bridges_than_partitions_are_refused(helm: str) -> None:
    result = run_helm(helm, "template", RELEASE, str(CHART), "--set", "ingest.replicas=5")
    assert result.returncode != 0
    assert "exceeds the partitions of transactions (4)" in result.stderr
    allowed = run_helm(helm, "template", RELEASE, str(CHART), "--set", "ingest.replicas=4")
    assert allowed.returncode == 0, allowed.stderr
