"""The containers' healthcheck script against real service processes."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fraudstream.common import names

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "docker" / "grpc_health_check.py"
_SPEC = importlib.util.spec_from_file_location("grpc_health_check", SCRIPT)
assert _SPEC is not None and _SPEC.loader is not None
grpc_health_check = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(grpc_health_check)


def _check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=30, env=env
    )


def test_serving_service_is_healthy(start_service, tmp_path):
    feedback = start_service("feedback", "--no-publish-labels", "--data-dir", str(tmp_path))
    feedback.wait_until_serving()
    result = _check(feedback.address)
    assert (result.returncode, result.stdout.strip()) == (0, f"{feedback.address}: SERVING")
    # Without an argument it asks 127.0.0.1:$FRAUDSTREAM_PORT when set.
    by_port = _check(env={"FRAUDSTREAM_PORT": str(feedback.port)})
    assert by_port.returncode == 0, by_port.stderr


def test_default_address_is_the_services_fixed_port():
    """In the images FRAUDSTREAM_SERVICE names the service; its settings use its fixed port."""
    for service, port in names.GRPC_PORTS.items():
        environ = {"FRAUDSTREAM_SERVICE": service}
        assert grpc_health_check.default_address(environ) == f"127.0.0.1:{port}"
    moved = {"FRAUDSTREAM_SERVICE": "scorer", "FRAUDSTREAM_PORT": "6000"}
    assert grpc_health_check.default_address(moved) == "127.0.0.1:6000"
    with pytest.raises(SystemExit, match="FRAUDSTREAM_SERVICE"):
        grpc_health_check.default_address({})


def test_image_without_a_service_name_is_unhealthy():
    result = _check(env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert "set FRAUDSTREAM_PORT or FRAUDSTREAM_SERVICE" in result.stderr


def test_scorer_without_a_model_is_unhealthy(start_service, tmp_path):
    scorer = start_service("scorer", "--models", str(tmp_path / "missing"), "--learner-addr", "")
    result = _check(scorer.address)
    assert result.returncode == 1
    assert result.stdout.strip() == f"{scorer.address}: NOT_SERVING"


def test_nothing_listening_is_unhealthy(free_ports):
    (port,) = free_ports(1)
    result = _check(f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert "UNAVAILABLE" in result.stderr


def test_under_mtls_it_checks_with_the_services_own_certificate(
    start_service, credentials, tmp_path
):
    feedback = start_service(
        "feedback", "--no-publish-labels", "--data-dir", str(tmp_path), tls=True, wait=False
    )
    feedback.wait_until_listening()
    feedback.wait_until_serving()
    env = {**os.environ, **credentials.env("feedback", tls=True)}
    result = _check(feedback.address, env=env)
    assert (result.returncode, result.stdout.strip()) == (0, f"{feedback.address}: SERVING")
    # Plaintext gets nowhere: the server requires a client certificate.
    plaintext = {k: v for k, v in env.items() if not k.startswith("FRAUDSTREAM_TLS_")}
    refused = _check(feedback.address, env=plaintext)
    assert refused.returncode == 1 and "UNAVAILABLE" in refused.stderr
