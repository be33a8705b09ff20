"""What the pages show: cases and learner status in words (no HTTP, no gRPC)."""

from __future__ import annotations

import math

from fraudstream.console import present
from fraudstream.v1 import alert_pb2, learner_service_pb2, model_pb2

from .conftest import load_alerts


def _case(n: int) -> alert_pb2.Case:
    alert = load_alerts("p")[n]
    return alert_pb2.Case(event_id=alert.transaction.event_id, alert=alert, state=1)


def test_a_case_in_words() -> None:
    detail = present.case_detail(_case(0))
    assert (detail["decision"], detail["kind"], detail["type"], detail["state"]) == (
        "block",
        "alert",
        "transfer",
        "open",
    )
    assert [d["name"] for d in detail["detectors"]] == [
        "Isolation Forest",
        "Autoencoder",
        "Classifier",
    ]
    assert all(d["fired"] for d in detail["detectors"])
    assert detail["reasons"][0] == {
        "text": "origin account emptied by this transfer",
        "detector": "Classifier",
        "contribution": 2.1,
    }
    assert ("origin balance", "181.00 → 0.00") in detail["transaction"]
    assert detail["alert_time"] == "2026-01-01 00:00:30 UTC"
    # Scored by a bundle without account features: the history section stays hidden.
    assert detail["history"] == []


def test_the_account_features_an_alert_was_scored_with_are_its_history() -> None:
    from fraudstream.model.accounts import ACCOUNT_FEATURES

    case = _case(1)
    values = [float(i) for i in range(len(ACCOUNT_FEATURES.features))]
    values[3] = 8.517
    case.alert.transaction.account_features.extend(values)
    history = present.case_detail(case)["history"]
    assert [row["feature"] for row in history] == list(ACCOUNT_FEATURES.names)
    assert history[1] == {
        "feature": "orig_count_24",
        "meaning": "transactions the origin sent in the last 24 steps",
        "value": "1",
    }
    assert history[3]["value"] == "8.517"
    assert all(row["meaning"] for row in history)
    # A vector of another length is not this definition's: nothing is shown rather than
    # values under the wrong names.
    case.alert.transaction.account_features.append(1.0)
    assert present.case_detail(case)["history"] == []


def test_an_audit_sample_and_a_reason_without_text() -> None:
    case = _case(3)
    case.alert.score.reasons.add(code="amount_log", contribution=0.1)
    detail = present.case_detail(case)
    assert detail["kind"] == "audit" and detail["decision"] == "allow"
    assert detail["reasons"][-1]["text"] == "amount log"


def test_learner_status_marks_what_cannot_be_measured_yet() -> None:
    status = learner_service_pb2.GetLearnerStatusResponse(
        champion_version=3,
        bundle_version="b1",
        promotions=3,
        champion_metrics=model_pb2.SnapshotMetrics(pr_auc=0.91, recall=0.8, window_size=400),
        challenger_metrics=model_pb2.SnapshotMetrics(pr_auc=math.nan, window_size=12),
    )
    shown = present.learner_status(status)
    assert shown["champion_version"] == 3 and shown["promotions"] == 3
    comparison = {name: (a, b) for name, a, b in shown["comparison"]}
    assert comparison["pr auc"] == (0.91, None)
    assert comparison["recall"] == (0.8, 0.0)
    assert comparison["window size"] == (400, 12)
    assert shown["last_promotion"] == "" and shown["scorers"] == []
