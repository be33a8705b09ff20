"""The learner as a real process between a real feedback service and a real scorer."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from fraudstream.v1 import (
    alert_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    learner_service_pb2,
    learner_service_pb2_grpc,
    scoring_service_pb2,
    scoring_service_pb2_grpc,
)

pytestmark = pytest.mark.integration

TOKEN = "tok-learner-test-5e1"
AUTH = (("authorization", f"Bearer {TOKEN}"),)


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _learner_status(learner) -> learner_service_pb2.GetLearnerStatusResponse:
    with learner.channel() as channel:
        stub = learner_service_pb2_grpc.LearnerServiceStub(channel)
        return stub.GetLearnerStatus(learner_service_pb2.GetLearnerStatusRequest(), timeout=5)


def _served_version(scorer) -> int:
    with scorer.channel() as channel:
        stub = scoring_service_pb2_grpc.ScoringServiceStub(channel)
        info = stub.GetModelInfo(scoring_service_pb2.GetModelInfoRequest(), timeout=5)
        return int(info.snapshot_version)


def _report_and_label(feedback, scorer, examples: list[alert_pb2.LabeledExample]) -> int:
    """Score the transactions on the scorer, report them as alerts, label each one."""
    with (
        scorer.channel() as scorer_channel,
        feedback.channel() as feedback_channel,
    ):
        scoring = scoring_service_pb2_grpc.ScoringServiceStub(scorer_channel)
        served = scoring.Score(
            scoring_service_pb2.ScoreRequest(
                transactions=[e.transaction for e in examples], include_features=True
            ),
            timeout=30,
        ).scores
        feedback_stub = feedback_service_pb2_grpc.FeedbackServiceStub(feedback_channel)
        alerts = [
            alert_pb2.Alert(transaction=e.transaction, score=s, kind=alert_pb2.ALERT_KIND_ALERT)
            for e, s in zip(examples, served, strict=True)
        ]
        (acks,) = feedback_stub.ReportAlerts(
            iter([feedback_service_pb2.ReportAlertsRequest(alerts=alerts)]), timeout=30
        )
        assert all(a.status == feedback_service_pb2.ACK_STATUS_ACCEPTED for a in acks.acks)
        position = 0
        for example in examples:
            position = feedback_stub.SubmitLabel(
                feedback_service_pb2.SubmitLabelRequest(
                    event_id=example.transaction.event_id, verdict=example.verdict
                ),
                metadata=AUTH,
                timeout=5,
            ).position
        return position


def test_labels_reach_the_scorer_as_a_promotion_and_survive_a_learner_restart(
    start_service, model_bundle, drift_stream, tmp_path
):
    env = {
        "FRAUDSTREAM_DATA_DIR": str(tmp_path / "var"),
        "FRAUDSTREAM_ANALYST_TOKENS": f"alice:{TOKEN}",
        "FRAUDSTREAM_PUBLISH_LABELS": "false",
        "FRAUDSTREAM_GRACE_SECONDS": "3",
    }
    feedback = start_service("feedback", env=env)
    feedback.wait_until_serving()
    learner_args = (
        "--models",
        str(model_bundle),
        "--feedback-addr",
        feedback.address,
        "--feedback-retry-seconds",
        "0.1",
    )
    learner = start_service("learner", *learner_args, env=env)
    learner.wait_until_serving()
    scorer = start_service(
        "scorer",
        "--models",
        str(model_bundle),
        "--learner-addr",
        learner.address,
        "--scorer-id",
        "scorer-1",
        env=env,
    )
    scorer.wait_until_serving()
    _wait_for(lambda: len(_learner_status(learner).scorers) == 1, 15, "scorer hello")

    first, second = drift_stream.examples[:400], drift_stream.examples[400:600]
    last = _report_and_label(feedback, scorer, first)
    assert last == len(first)
    _wait_for(lambda: _learner_status(learner).label_position == last, 30, "labels consumed")
    status = _learner_status(learner)
    assert status.labels_seen == len(first)
    assert status.champion_version >= 1, status
    _wait_for(lambda: _served_version(scorer) == status.champion_version, 15, "scorer swap")
    (seen,) = _learner_status(learner).scorers
    assert (seen.scorer_id, seen.applied_version) == ("scorer-1", status.champion_version)

    assert learner.terminate(timeout=15) == 0
    # Labels recorded while the learner is down wait in the feedback log.
    last = _report_and_label(feedback, scorer, second)
    restarted = start_service("learner", *learner_args, env=env)
    restarted.wait_until_serving()
    _wait_for(lambda: _learner_status(restarted).label_position == last, 30, "labels resumed")
    resumed = _learner_status(restarted)
    assert resumed.labels_seen == len(first) + len(second), "a label was lost or repeated"
    assert resumed.champion_version >= status.champion_version
    assert "resumed at snapshot" in restarted.log()
