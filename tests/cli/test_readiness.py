"""`fraudstream readiness` against a real running stack: green when up, red naming what is down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudstream.cli.ports import free_port
from fraudstream.cli.stack import ServiceHandle, Stack

pytestmark = pytest.mark.integration

TOKEN = "tok-readiness-test-41d"


def _readiness(
    stack: dict[str, ServiceHandle], bootstrap: str, report: Path, token: str, *args: str
):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "fraudstream.cli.main",
            "readiness",
            "--kafka-bootstrap",
            bootstrap,
            "--scorer-addr",
            stack["scorer"].address,
            "--feedback-addr",
            stack["feedback"].address,
            "--learner-addr",
            stack["learner"].address,
            "--ingest-addr",
            stack["ingest"].address,
            "--prometheus-url",
            f"http://127.0.0.1:{free_port()}",  # nothing listens: the check is skipped
            "--report",
            str(report),
            # The tester labels, and may report a case itself as the bridge does.
            "--token",
            token,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "FRAUDSTREAM_ANALYST_TOKENS": f"ops:{TOKEN}"},
    )


@pytest.fixture(scope="module")
def pipeline(
    kafka_bootstrap: str,
    model_bundle: Path,
    tmp_path_factory: pytest.TempPathFactory,
    credentials: Any,
) -> Iterator[tuple[Stack, dict[str, ServiceHandle]]]:
    """The four services as processes on the test broker, the learner feeding the scorer."""
    env = {
        "FRAUDSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FRAUDSTREAM_MODELS": str(model_bundle),
        "FRAUDSTREAM_ANALYST_TOKENS": f"ops:{TOKEN}",
        "FRAUDSTREAM_GRACE_SECONDS": "3",
    }

    def own(name: str) -> dict[str, str]:
        return {**env, **credentials.env(name)}

    with Stack(tmp_path_factory.mktemp("readiness")) as stack:
        feedback = stack.start_service("feedback", env=own("feedback"))
        learner = stack.start_service(
            "learner", "--feedback-addr", feedback.address, env=own("learner")
        )
        scorer = stack.start_service("scorer", "--learner-addr", learner.address, env=own("scorer"))
        ingest = stack.start_service(
            "ingest",
            "--scorer-addr",
            scorer.address,
            "--feedback-addr",
            feedback.address,
            "--group-id",
            "readiness-test",
            env=own("ingest"),
        )
        services = {s.name: s for s in (feedback, learner, scorer, ingest)}
        for service in services.values():
            service.wait_serving(90)
        yield stack, services


def test_a_running_pipeline_is_ready(pipeline, kafka_bootstrap: str, tmp_path: Path, credentials):
    _stack, services = pipeline
    report = tmp_path / "demo_readiness_report.json"
    result = _readiness(services, kafka_bootstrap, report, credentials.tokens["tester"])
    assert result.returncode == 0, result.stdout + result.stderr
    written = json.loads(report.read_text())
    assert set(written) == {"ok", "checks"} and written["ok"] is True
    checks = {c["name"]: c for c in written["checks"]}
    assert all(set(c) == {"name", "ok", "detail"} for c in written["checks"])
    assert {
        "kafka.reachable",
        "kafka.topics",
        "health.scorer",
        "health.feedback",
        "health.learner",
        "health.ingest",
        "scorer.model_loaded",
        "versions.consistent",
        "prometheus.targets",
        "trace.transactions_to_scored",
        "trace.alert_to_feedback",
        "trace.label_to_learner",
        "security.scorer",
        "security.feedback",
        "security.learner",
    } <= set(checks)
    assert checks["kafka.reachable"]["detail"] == {
        "bootstrap": kafka_bootstrap,
        "protocol": "PLAINTEXT",
    }
    for name in ("scorer", "feedback", "learner"):
        detail = checks[f"security.{name}"]["detail"]
        assert detail == {"transport": "plaintext", "anonymous_allowed": False}
    assert checks["prometheus.targets"]["detail"].startswith("skipped")
    traced = checks["trace.transactions_to_scored"]["detail"]
    assert traced["event_id"].startswith("readiness-") and traced["model_version"]
    # The emptied-account transfer is flagged, so ingest itself reported the alert.
    assert "reported by ingest" in checks["trace.alert_to_feedback"]["detail"]


def test_a_stopped_service_makes_readiness_fail_and_names_it(
    pipeline, kafka_bootstrap: str, tmp_path: Path, credentials
):
    _stack, services = pipeline
    services["ingest"].stop(grace=10)
    report = tmp_path / "demo_readiness_report.json"
    token = credentials.tokens["tester"]
    result = _readiness(services, kafka_bootstrap, report, token, "--timeout", "5", "--json")
    assert result.returncode == 1
    printed = json.loads(result.stdout)
    assert printed == json.loads(report.read_text()) and printed["ok"] is False
    failing = {c["name"] for c in printed["checks"] if not c["ok"]}
    assert failing == {"health.ingest", "trace.transactions_to_scored"}, printed
    assert "not ready: health.ingest, trace.transactions_to_scored" in result.stderr
    # The label path does not need ingest: it is still traced, through a directly reported case.
    labels = {c["name"]: c for c in printed["checks"]}["trace.alert_to_feedback"]
    assert "reported directly" in labels["detail"]


def test_nothing_running_fails_every_check_quickly(tmp_path: Path):
    dead = f"127.0.0.1:{free_port()}"
    report = tmp_path / "r.json"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "fraudstream.cli.main", "readiness"),
            *("--kafka-bootstrap", dead, "--scorer-addr", dead, "--feedback-addr", dead),
            *("--learner-addr", dead, "--ingest-addr", dead, "--prometheus-url", f"http://{dead}"),
            *("--timeout", "2", "--report", str(report), "--token", "t"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    checks = {c["name"]: c["ok"] for c in json.loads(report.read_text())["checks"]}
    assert not checks["kafka.reachable"] and not checks["health.scorer"]
    assert not checks["trace.label_to_learner"]
