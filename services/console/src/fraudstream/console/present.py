"""Cases and learner status as plain values the templates show (names in words, times in UTC)."""

from __future__ import annotations

import math
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from fraudstream.model.accounts import ACCOUNT_FEATURES
from fraudstream.v1 import alert_pb2, learner_service_pb2, score_pb2, transaction_pb2

_DETECTOR_WORDS = {
    score_pb2.DETECTOR_ISOLATION_FOREST: "Isolation Forest",
    score_pb2.DETECTOR_AUTOENCODER: "Autoencoder",
    score_pb2.DETECTOR_CLASSIFIER: "Classifier",
    score_pb2.DETECTOR_UNSPECIFIED: "Rule",
}


def _enum_word(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix).lower().replace("_", " ")
    except ValueError:
        return str(value)


def when(stamp: Timestamp, present: bool = True) -> str:
    if not present or (stamp.seconds == 0 and stamp.nanos == 0):
        return ""
    return stamp.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC")


def case_row(case: alert_pb2.Case) -> dict[str, Any]:
    """One line of a queue table."""
    score, tx = case.alert.score, case.alert.transaction
    return {
        "event_id": case.event_id,
        "risk": score.risk,
        "decision": _enum_word(score_pb2.Decision, score.decision, "DECISION_"),
        "kind": "audit" if case.alert.kind == alert_pb2.ALERT_KIND_AUDIT else "alert",
        "type": _enum_word(transaction_pb2.TransactionType, tx.type, "TRANSACTION_TYPE_"),
        "amount": tx.amount,
        "state": _enum_word(alert_pb2.CaseState, case.state, "CASE_STATE_"),
        "verdict": _enum_word(alert_pb2.Verdict, case.verdict, "VERDICT_") if case.verdict else "",
        "analyst": case.analyst,
        "alert_time": when(case.alert.alert_time, case.alert.HasField("alert_time")),
    }


def _history(alert: alert_pb2.Alert) -> list[dict[str, Any]]:
    """The account's recent behaviour: the account features the alert was scored with, each
    with its meaning, in definition order (none when the bundle scores without them)."""
    values = list(alert.transaction.account_features)
    features = ACCOUNT_FEATURES.features
    if len(values) != len(features):
        return []
    return [
        {"feature": f.name, "meaning": f.meaning, "value": _feature_value(v)}
        for f, v in zip(features, values, strict=True)
    ]


def _feature_value(value: float) -> str:
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.3f}"


def case_detail(case: alert_pb2.Case) -> dict[str, Any]:
    """Everything the case page shows."""
    alert, score, tx = case.alert, case.alert.score, case.alert.transaction
    detail = case_row(case)
    detail.update(
        model_version=score.model_version or "unknown",
        lease_expires=when(case.lease_expire_time, case.HasField("lease_expire_time")),
        note=case.note,
        detectors=[
            {
                "name": _DETECTOR_WORDS.get(d.detector, str(d.detector)),
                "score": d.score,
                "raw": d.raw_score,
                "fired": d.fired,
            }
            for d in score.detector_scores
        ],
        reasons=[
            {
                "text": r.text or r.code.replace("_", " "),
                "detector": _DETECTOR_WORDS.get(r.detector, str(r.detector)),
                "contribution": r.contribution,
            }
            for r in score.reasons
        ],
        transaction=[
            ("type", detail["type"]),
            ("amount", f"{tx.amount:,.2f}"),
            ("time", f"{when(tx.event_time, tx.HasField('event_time')) or '?'} (step {tx.step})"),
            ("origin", tx.name_orig),
            ("origin balance", f"{tx.old_balance_orig:,.2f} → {tx.new_balance_orig:,.2f}"),
            ("destination", tx.name_dest),
            ("destination balance", f"{tx.old_balance_dest:,.2f} → {tx.new_balance_dest:,.2f}"),
        ],
        history=_history(alert),
    )
    return detail


def _metrics(metrics: Message) -> list[tuple[str, Any]]:
    # Every field, zeros included: a challenger at 0 recall is news, not a missing value.
    # NaN (too few labels to measure) becomes None, shown as a dash.
    values = [
        (f.name.replace("_", " "), getattr(metrics, f.name)) for f in metrics.DESCRIPTOR.fields
    ]
    return [(name, None if isinstance(v, float) and math.isnan(v) else v) for name, v in values]


def learner_status(status: learner_service_pb2.GetLearnerStatusResponse) -> dict[str, Any]:
    """The model page's figures: versions, champion against challenger, promotions, scorers."""
    champion = dict(_metrics(status.champion_metrics))
    challenger = dict(_metrics(status.challenger_metrics))
    names = list(dict.fromkeys([*champion, *challenger]))
    return {
        "champion_version": status.champion_version,
        "bundle_version": status.bundle_version or "unknown",
        "label_position": status.label_position,
        "labels_seen": status.labels_seen,
        "updates": status.updates,
        "promotions": status.promotions,
        "refusals": status.refusals,
        "last_promotion": when(status.last_promotion_time, status.HasField("last_promotion_time")),
        "comparison": [(n, champion.get(n, ""), challenger.get(n, "")) for n in names],
        "scorers": [
            {
                "id": s.scorer_id,
                "applied": s.applied_version,
                "rejection": s.last_rejection,
                "since": when(s.connected_time, s.HasField("connected_time")),
            }
            for s in status.scorers
        ],
    }
