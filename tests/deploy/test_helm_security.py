"""The Helm chart's security: certificates mounted under TLS, unprivileged pods with bounded
resources, images, read-only bundles, and the TLS health probe."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudstream.common import certs
from fraudstream.common.grpc_server import build_grpc_service
from fraudstream.common.transport import Transport

from .chart import (
    CHART,
    EVERYTHING,
    RELEASE,
    WORKLOADS,
    Manifests,
    env_of,
    only_container,
    pod_spec,
)

pytestmark = pytest.mark.integration


def test_with_tls_every_service_mounts_its_certificate_secret(
    render: Callable[..., Manifests],
) -> None:
    manifests = render("tls.enabled=true", "tls.secrets.learner=learner-from-cert-manager")
    for service in WORKLOADS:
        pod = pod_spec(manifests, service)
        secret = "learner-from-cert-manager" if service == "learner" else f"{RELEASE}-{service}-tls"
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == secret
        (container,) = pod["containers"]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["tls"]["readOnly"] is True
        directory = mounts["tls"]["mountPath"]
        env = env_of(container)
        assert {env[f"FRAUDSTREAM_TLS_{part}"] for part in ("CERT", "KEY", "CA")} == {
            f"{directory}/tls.crt",
            f"{directory}/tls.key",
            f"{directory}/ca.crt",
        }
        if service != "console":
            # The kubelet's grpc probe has no client certificate: the chart's own probe runs.
            assert "grpc" not in container["readinessProbe"]
            assert container["readinessProbe"]["exec"]["command"][-1].endswith("grpc_probe.py")
    plain = env_of(only_container(render(), "scorer"))
    assert not [name for name in plain if name.startswith("FRAUDSTREAM_TLS_")]


def test_pods_run_unprivileged_with_bounded_resources(
    render: Callable[..., Manifests],
) -> None:
    manifests = render(*EVERYTHING)
    for service in WORKLOADS:
        pod = pod_spec(manifests, service)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        for container in pod["containers"] + pod.get("initContainers", []):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert {"requests", "limits"} <= container["resources"].keys(), service
        env = env_of(pod["containers"][0])
        assert env["FRAUDSTREAM_SERVICE_TOKEN"]["secretKeyRef"]["key"] == service
        if service in ("feedback", "console"):
            assert env["FRAUDSTREAM_ANALYST_TOKENS_FILE"].startswith("/etc/fraudstream/auth/")


def test_images_per_service_or_one_image_with_a_command(render: Callable[..., Manifests]) -> None:
    per_service = render("image.repository=registry.example/fraudstream", "image.tag=1.2.3")
    single = render("image.mode=single", "image.repository=registry.example/fraudstream")
    for service in WORKLOADS:
        container = only_container(per_service, service)
        assert container["image"] == f"registry.example/fraudstream/{service}:1.2.3"
        assert "command" not in container
        container = only_container(single, service)
        assert container["image"].startswith("registry.example/fraudstream:")
        assert container["command"] == ["fraudstream", "serve", service]


def test_a_bundle_image_is_copied_into_a_read_only_volume(
    render: Callable[..., Manifests],
) -> None:
    manifests = render("models.existingClaim=", "models.image.repository=registry.example/bundle")
    for service in ("scorer", "learner"):
        pod = pod_spec(manifests, service)
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
