"""The whole pipeline as processes under mutual TLS, with certificates from `fraudstream certs`.

Every process has its own certificate (its common name is its identity) and the CA; the test
itself calls with the client certificate and a bearer token, as an operator's tool would.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from fraudstream.common import certs
from fraudstream.common.transport import Transport
from fraudstream.v1 import (
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    learner_service_pb2,
    learner_service_pb2_grpc,
    score_pb2,
)

pytestmark = pytest.mark.integration

EVENTS = 1500


def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_the_pipeline_runs_under_mutual_tls(
    start_service,
    credentials,
    model_bundle,
    pipeline_topics,
    kafka_bootstrap,
    replay,
    read_topic,
    tmp_path: Path,
):
    # The certificates the processes use come from the command an operator runs.
    made = subprocess.run(
        [sys.executable, "-m", "fraudstream.cli.main", "certs", "--out", str(tmp_path / "pki")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    pki = tmp_path / "pki"

    def tls(name: str) -> dict[str, str]:
        files = certs.paths(pki, name)
        # No service token: under mTLS the certificate names the service.
        return {
            "FRAUDSTREAM_TLS_CERT": str(files.cert),
            "FRAUDSTREAM_TLS_KEY": str(files.key),
            "FRAUDSTREAM_TLS_CA": str(pki / "ca.pem"),
            "FRAUDSTREAM_SERVICE_TOKEN": "",
        }

    feedback = start_service(
        "feedback",
        "--data-dir",
        str(tmp_path / "var"),
        "--no-publish-labels",
        env=tls("feedback"),
        wait=False,
    )
    client = certs.paths(pki, "client")
    tester = Transport(client.cert, client.key, pki / "ca.pem", credentials.tokens["tester"])
    feedback.transport = tester
    feedback.wait_until_listening()
    feedback.wait_until_serving()
    learner = start_service(
        "learner",
        "--models",
        str(model_bundle),
        "--data-dir",
        str(tmp_path / "var"),
        "--feedback-addr",
        f"localhost:{feedback.port}",
        env=tls("learner"),
        wait=False,
    )
    learner.transport = tester
    learner.wait_until_listening()
    learner.wait_until_serving()
    scorer = start_service(
        "scorer",
        "--models",
        str(model_bundle),
        "--learner-addr",
        f"localhost:{learner.port}",
        "--scorer-id",
        "tls-scorer",
        env=tls("scorer"),
        wait=False,
    )
    scorer.transport = tester
    scorer.wait_until_listening()
    scorer.wait_until_serving()
    ingest = start_service(
        "ingest",
        *pipeline_topics.ingest_args(kafka_bootstrap, f"g-tls-{tmp_path.name}"),
        "--scorer-addr",
        f"localhost:{scorer.port}",
        "--feedback-addr",
        f"localhost:{feedback.port}",
        # Every decision but ALLOW is an alert; audit some ALLOWs too, so cases reach feedback.
        "--audit-sample-rate",
        "0.05",
        "--seed",
        "3",
        env=tls("ingest"),
        wait=False,
    )
    ingest.transport = tester
    ingest.wait_until_listening()
    ingest.wait_until_serving(60)

    replayer = replay(pipeline_topics.transactions, EVENTS, "tls")
    assert replayer.wait(timeout=120) == 0, replayer.stdout.read().decode()
    scored = read_topic(pipeline_topics.scored, lambda ms: len({m.key() for m in ms}) >= EVENTS)
    assert len({m.key() for m in scored}) == EVENTS, ingest.log()[-3000:]
    flagged = {
        s.event_id
        for s in (score_pb2.Score.FromString(m.value()) for m in scored)
        if s.decision in (score_pb2.DECISION_REVIEW, score_pb2.DECISION_BLOCK)
    }

    # Alerts reached feedback over ingest's mTLS stream; the scorer synced with the learner.
    address = f"localhost:{feedback.port}"
    with tester.channel(address) as channel:
        stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)

        def reported() -> int:
            request = feedback_service_pb2.ListAlertsRequest(page_size=1)
            return int(stub.ListAlerts(request, timeout=5).total_size)

        # Every flagged event plus about 5% of the rest as audit cases.
        _until(lambda: reported() > len(flagged), 60, "cases in the feedback service")
    with tester.channel(f"localhost:{learner.port}") as channel:
        status = learner_service_pb2_grpc.LearnerServiceStub(channel).GetLearnerStatus(
            learner_service_pb2.GetLearnerStatusRequest(), timeout=5
        )
    assert [s.scorer_id for s in status.scorers] == ["tls-scorer"]

    # Without a certificate nothing connects; with one but no token, data RPCs are refused.
    plain = Transport(token=credentials.tokens["tester"])
    with plain.channel(address) as channel, pytest.raises(grpc.RpcError) as plaintext:
        feedback_service_pb2_grpc.FeedbackServiceStub(channel).ListAlerts(
            feedback_service_pb2.ListAlertsRequest(), timeout=5
        )
    assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE
    tokenless_transport = Transport(client.cert, client.key, pki / "ca.pem")
    with tokenless_transport.channel(address) as channel, pytest.raises(grpc.RpcError) as tokenless:
        feedback_service_pb2_grpc.FeedbackServiceStub(channel).ListAlerts(
            feedback_service_pb2.ListAlertsRequest(), timeout=5
        )
    assert tokenless.value.code() == grpc.StatusCode.UNAUTHENTICATED
    for service in (ingest, scorer, learner, feedback):
        assert service.terminate(timeout=20) == 0, service.log()[-2000:]
