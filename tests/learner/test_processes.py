"""The learner as a real process between a real feedback service and a real scorer."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fraudstream.v1 import (
    alert_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    learner_service_pb2,
    learner_service_pb2_grpc,
    score_pb2,
    scoring_service_pb2,
    scoring_service_pb2_grpc,
)
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

AUDIT_RATE = 0.02  # as in conftest's traffic
FLIPPED = 0.30
ALERT_DECISIONS = (score_pb2.DECISION_REVIEW, score_pb2.DECISION_BLOCK)

TOKEN = "tok-learner-test-5e1"
AUTH = (("authorization", f"Bearer {TOKEN}"),)


def _learner_status(learner) -> learner_service_pb2.GetLearnerStatusResponse:
    with learner.channel() as channel:
        stub = learner_service_pb2_grpc.LearnerServiceStub(channel)
        return stub.GetLearnerStatus(learner_service_pb2.GetLearnerStatusRequest(), timeout=15)


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
        # An all-alert label stream: the evidence rule would wait for audits.
        "--promotion-rule",
        "margin",
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
    wait_for(lambda: len(_learner_status(learner).scorers) == 1, 15, "scorer hello", every=0.05)

    first, second = drift_stream.examples[:400], drift_stream.examples[400:600]
    last = _report_and_label(feedback, scorer, first)
    assert last == len(first)
    wait_for(
        lambda: _learner_status(learner).label_position == last, 30, "labels consumed", every=0.05
    )
    status = _learner_status(learner)
    assert status.labels_seen == len(first)
    assert status.champion_version >= 1, status
    wait_for(
        lambda: _served_version(scorer) == status.champion_version, 15, "scorer swap", every=0.05
    )
    (seen,) = _learner_status(learner).scorers
    assert (seen.scorer_id, seen.applied_version) == ("scorer-1", status.champion_version)

    assert learner.terminate(timeout=15) == 0
    # Labels recorded while the learner is down wait in the feedback log.
    last = _report_and_label(feedback, scorer, second)
    restarted = start_service("learner", *learner_args, env=env)
    restarted.wait_until_serving()
    wait_for(
        lambda: _learner_status(restarted).label_position == last, 30, "labels resumed", every=0.05
    )
    resumed = _learner_status(restarted)
    assert resumed.labels_seen == len(first) + len(second), "a label was lost or repeated"
    assert resumed.champion_version >= status.champion_version
    assert "resumed at snapshot" in restarted.log()


def _score(scorer, transactions: list) -> list:
    with scorer.channel() as channel:
        stub = scoring_service_pb2_grpc.ScoringServiceStub(channel)
        scores = []
        for start in range(0, len(transactions), 2000):
            scores += stub.Score(
                scoring_service_pb2.ScoreRequest(
                    transactions=transactions[start : start + 2000], include_features=True
                ),
                timeout=60,
            ).scores
        return scores


def _alert_precision(scores: list, fraud: np.ndarray) -> float:
    flagged = np.asarray([s.decision in ALERT_DECISIONS for s in scores])
    return float(fraud[flagged].mean())


def test_a_bad_label_stream_never_lowers_the_served_alert_precision(
    start_service, model_bundle, traffic, tmp_path
):
    """30% of all verdicts flipped, on alerts and audits as ingest would send them: the learner
    refuses (or rolls back) what those labels teach, and the model the scorer serves at the end
    flags held-out traffic at least as precisely as the bundle did."""
    env = {
        "FRAUDSTREAM_DATA_DIR": str(tmp_path / "var"),
        "FRAUDSTREAM_ANALYST_TOKENS": f"alice:{TOKEN}",
        "FRAUDSTREAM_PUBLISH_LABELS": "false",
    }
    feedback = start_service("feedback", env=env)
    feedback.wait_until_serving()
    learner = start_service(
        "learner",
        "--models",
        str(model_bundle),
        "--feedback-addr",
        feedback.address,
        "--feedback-retry-seconds",
        "0.1",
        "--window-size",
        "2000",
        env=env,
    )
    scorer = start_service(
        "scorer", "--models", str(model_bundle), "--learner-addr", learner.address, env=env
    )
    learner.wait_until_serving()
    scorer.wait_until_serving()
    half = traffic.fraud.size // 2
    held_out = np.arange(half, traffic.fraud.size)
    held_out_transactions = traffic.transactions(held_out, "held")
    before = _alert_precision(_score(scorer, held_out_transactions), traffic.fraud[held_out])

    started = time.monotonic()
    labeled = np.flatnonzero(traffic.alerted[:half] | traffic.audited[:half])
    wrong = np.random.default_rng(5).random(labeled.size) < FLIPPED
    served = _score(scorer, traffic.transactions(labeled, "lab"))
    alerts = [
        alert_pb2.Alert(
            transaction=transaction,
            score=score,
            kind=alert_pb2.ALERT_KIND_AUDIT if traffic.audited[row] else alert_pb2.ALERT_KIND_ALERT,
            selection_probability=AUDIT_RATE if traffic.audited[row] else 1.0,
        )
        for transaction, score, row in zip(
            traffic.transactions(labeled, "lab"), served, labeled, strict=True
        )
    ]
    with feedback.channel() as channel:
        stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
        (acks,) = stub.ReportAlerts(
            iter([feedback_service_pb2.ReportAlertsRequest(alerts=alerts)]), timeout=60
        )
        assert all(a.status == feedback_service_pb2.ACK_STATUS_ACCEPTED for a in acks.acks)
        for alert, row, flipped in zip(alerts, labeled, wrong, strict=True):
            position = stub.SubmitLabel(
                feedback_service_pb2.SubmitLabelRequest(
                    event_id=alert.transaction.event_id,
                    verdict=alert_pb2.VERDICT_FRAUD
                    if traffic.fraud[row] != flipped
                    else alert_pb2.VERDICT_LEGIT,
                ),
                metadata=AUTH,
                timeout=5,
            ).position
    wait_for(
        lambda: _learner_status(learner).label_position == position,
        60,
        "labels consumed",
        every=0.05,
    )
    status = _learner_status(learner)
    wait_for(lambda: _served_version(scorer) == status.champion_version, 15, "scorer", every=0.05)
    after = _alert_precision(_score(scorer, held_out_transactions), traffic.fraud[held_out])
    print(
        f"{labeled.size} labels ({int(wrong.sum())} flipped, {int(traffic.audited[labeled].sum())} "
        f"audits) in {time.monotonic() - started:.1f} s: {status.promotions} promotions, "
        f"{status.refusals} refusals, {status.rollbacks} rollbacks; held-out alert precision "
        f"{before:.3f} -> {after:.3f}; last judgement: {status.last_judgement}"
    )
    assert status.labels_seen == labeled.size
    assert status.refusals + status.rollbacks >= 1, "the bad labels were never judged"
    assert status.champion_evidence.audits >= 1 or status.rollbacks >= 1
    assert after >= before
