"""Every service as a real process: reflection via real grpcurl, health, /metrics, SIGTERM."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest

pytestmark = pytest.mark.integration

# What each service must expose through reflection alone (no .proto files).
EXPECTED = {
    "scorer": {
        "fraudstream.v1.ScoringService": ["StreamScores", "Score", "GetModelInfo"],
    },
    "feedback": {
        "fraudstream.v1.FeedbackService": [
            "ReportAlerts",
            "Review",
            "SubmitLabel",
            "ListAlerts",
            "StreamLabels",
        ],
    },
    "learner": {
        "fraudstream.v1.LearnerService": ["SyncModels", "GetLearnerStatus", "Rollback"],
    },
    "ingest": {},
}
BIDI = {"StreamScores", "ReportAlerts", "Review", "StreamLabels", "SyncModels"}
ALWAYS = {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}
GRACE_SECONDS = 3.0


def _grpcurl(grpcurl: str, address: str, *args: str) -> str:
    """grpcurl [flags] ADDRESS VERB [SYMBOL], plaintext, reflection only."""
    result = subprocess.run(
        [grpcurl, "-plaintext", address, *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, f"grpcurl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


@pytest.fixture
def service_args(model_bundle, kafka_bootstrap, tmp_path):
    """What each service needs to become SERVING: a bundle, a broker, a data directory."""
    return {
        "scorer": ["--models", str(model_bundle), "--learner-addr", ""],
        "feedback": ["--data-dir", str(tmp_path / "var"), "--kafka-bootstrap", kafka_bootstrap],
        "learner": [
            "--models",
            str(model_bundle),
            "--data-dir",
            str(tmp_path / "var"),
        ],
        "ingest": ["--kafka-bootstrap", kafka_bootstrap, "--group-id", f"g-{tmp_path.name}"],
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reflection_lists_and_describes_every_service(name, start_service, grpcurl, service_args):
    service = start_service(name, *service_args[name])

    listed = set(_grpcurl(grpcurl, service.address, "list").split())
    assert listed == ALWAYS | set(EXPECTED[name])

    for service_name, rpcs in EXPECTED[name].items():
        described = _grpcurl(grpcurl, service.address, "describe", service_name)
        for rpc in rpcs:
            assert f"rpc {rpc} (" in described, f"{rpc} missing from {service_name}:\n{described}"
            (line,) = [ln for ln in described.splitlines() if f"rpc {rpc} (" in ln]
            assert (f"rpc {rpc} ( stream " in line and "returns ( stream " in line) == (rpc in BIDI)
        methods = set(_grpcurl(grpcurl, service.address, "list", service_name).split())
        assert methods == {f"{service_name}.{rpc}" for rpc in rpcs}

    service.wait_until_serving()
    health = json.loads(_grpcurl(grpcurl, service.address, "grpc.health.v1.Health/Check"))
    assert health["status"] == "SERVING"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metrics_endpoint_answers(name, start_service, service_args):
    service = start_service(name, *service_args[name])
    url = f"http://127.0.0.1:{service.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        body = response.read().decode()
    assert response.status == 200
    assert "# TYPE" in body


@pytest.mark.parametrize("as_module", [False, True], ids=["fraudstream-serve", "python-m"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sigterm_stops_within_grace(name, as_module, start_service, service_args):
    service = start_service(
        name, *service_args[name], "--grace-seconds", str(GRACE_SECONDS), as_module=as_module
    )
    service.wait_until_serving()
    started = time.monotonic()
    code = service.terminate(timeout=GRACE_SECONDS + 5)
    elapsed = time.monotonic() - started
    assert code == 0, service.log()
    assert elapsed < GRACE_SECONDS + 3
    log = service.log()
    assert "received SIGTERM, stopping" in log
    assert f"{name} stopped" in log


def test_bad_setting_is_a_clear_error(start_service):
    service = start_service("scorer", "--max-batch-size", "zero", wait=False)
    assert service.process.wait(timeout=30) == 2
    assert "--max-batch-size" in service.log()
