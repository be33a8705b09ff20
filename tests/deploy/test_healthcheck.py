"""The containers' healthcheck script against real service processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "docker" / "grpc_health_check.py"


def _check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=30, env=env
    )


def test_serving_service_is_healthy(start_service, tmp_path):
    feedback = start_service("feedback", "--no-publish-labels", "--data-dir", str(tmp_path))
    feedback.wait_until_serving()
    result = _check(feedback.address)
    assert (result.returncode, result.stdout.strip()) == (0, f"{feedback.address}: SERVING")
    # Without an argument it asks 127.0.0.1:$FRAUDSTREAM_PORT, as in the images.
    by_port = _check(env={"FRAUDSTREAM_PORT": str(feedback.port)})
    assert by_port.returncode == 0, by_port.stderr


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
