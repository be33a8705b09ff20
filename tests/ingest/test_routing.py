"""route() decides every outcome of a batch from its scores, with no Kafka and no gRPC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import json_format

from fraudstream.ingest.batch import Batch, Rejected
from fraudstream.ingest.routing import UNSCORABLE, Routes, Unscorable, route
from fraudstream.v1 import alert_pb2, score_pb2
from fraudstream.v1.transaction_pb2 import Transaction

CASE = json.loads((Path(__file__).parent / "testdata" / "routing_batch.json").read_text())
ROUTES = Routes(transactions="transactions", scored="scored", alerts="alerts", dlq="dlq")
KIND = {alert_pb2.ALERT_KIND_ALERT: "alert", alert_pb2.ALERT_KIND_AUDIT: "audit"}


def _batch() -> tuple[Batch, list[score_pb2.Score | Unscorable], list[bool]]:
    batch = Batch(seq=1, batch_id="b1")
    for r in CASE["rejected"]:
        rejected = Rejected(
            tuple(r["source"]), r["key"].encode(), r["value"].encode(), r["reason"], r["message"]
        )
        batch.rejected.append(rejected)
    scores: list[score_pb2.Score | Unscorable] = []
    for item in CASE["items"]:
        batch.transactions.append(json_format.ParseDict(item["transaction"], Transaction()))
        batch.sources.append(tuple(item["source"]))
        if "unscorable" in item:
            scores.append(Unscorable(item["unscorable"]))
        else:
            scores.append(json_format.ParseDict(item["score"], score_pb2.Score()))
    audit = [item.get("audit", False) for item in CASE["items"]]
    return batch, scores, audit


def _destinations(outcomes) -> dict[str, list[str]]:
    """Per event id (or rejected key), where route() sends it, in the testdata's notation."""
    found: dict[str, list[str]] = {}
    for message in outcomes.messages:
        if message.topic == ROUTES.dlq:
            headers = dict(message.headers)
            key = message.key.decode() if isinstance(message.key, bytes) else message.key
            event = _event_of(key)
            found.setdefault(event, []).append(f"dlq:{headers['dlq.reason'].decode()}")
        else:
            found.setdefault(message.key, []).append(message.topic)
    for case in outcomes.cases:
        found.setdefault(case.score.event_id, []).append(f"feedback:{KIND[case.kind]}")
    return found


def _event_of(key: str) -> str:
    """Dead letters of scored items are keyed by account (name_orig); map back to the event."""
    for item in CASE["items"]:
        if item["transaction"]["nameOrig"] == key:
            return item["transaction"]["eventId"]
    return key


def test_every_item_goes_where_the_testdata_says():
    batch, scores, audit = _batch()
    outcomes = route(batch, scores, ROUTES, audit)
    expected = {item["transaction"]["eventId"]: item["expect"] for item in CASE["items"]}
    expected["k-bad"] = ["dlq:bad_json"]
    assert _destinations(outcomes) == expected
    assert outcomes.flagged == 2
    assert sorted(outcomes.dead_letter_reasons) == ["bad_json", "invalid_amount", UNSCORABLE]
    assert outcomes.per_topic() == {"scored": 4, "alerts": 2, "dlq": 3}


def test_messages_carry_the_score_the_alert_and_the_dead_letter_source():
    batch, scores, audit = _batch()
    outcomes = route(batch, scores, ROUTES, audit)
    by_topic = {t: [m for m in outcomes.messages if m.topic == t] for t in ("scored", "alerts")}
    assert [score_pb2.Score.FromString(m.value).event_id for m in by_topic["scored"]] == [
        "r-0",
        "r-1",
        "r-2",
        "r-3",
    ]
    alert = alert_pb2.Alert.FromString(by_topic["alerts"][0].value)
    assert alert.kind == alert_pb2.ALERT_KIND_ALERT
    assert alert.transaction.event_id == alert.score.event_id == "r-1"
    assert alert.alert_time.seconds > 0

    unscorable = next(
        m for m in outcomes.messages if dict(m.headers or {}).get("dlq.reason") == b"unscorable"
    )
    headers = dict(unscorable.headers)
    assert headers["dlq.message"].decode().startswith("UNKNOWN: Input X contains infinity")
    assert (headers["dlq.source.partition"], headers["dlq.source.offset"]) == (b"3", b"42")
    assert Transaction.FromString(unscorable.value).amount == 1e308

    rejected = next(m for m in outcomes.messages if m.key == b"k-bad")
    assert rejected.value == b"not a transaction"
    assert dict(rejected.headers)["dlq.source.offset"] == b"7"


def test_without_audit_draws_no_audit_case_is_made():
    batch, scores, _audit = _batch()
    outcomes = route(batch, scores, ROUTES)
    assert [KIND[c.kind] for c in outcomes.cases] == ["alert", "alert"]


def test_scores_that_do_not_pair_with_the_transactions_are_refused():
    batch, scores, _audit = _batch()
    with pytest.raises(ValueError, match="5 scores for the 6 transactions"):
        route(batch, scores[:-1], ROUTES)


def test_cases_carry_their_selection_probability():
    """An alert was certain to be sent (1.0); an audit case had the audit rate's chance."""
    batch, scores, audit = _batch()
    outcomes = route(batch, scores, ROUTES, audit, audit_rate=0.002)
    probability = {case.kind: case.selection_probability for case in outcomes.cases}
    assert probability == {alert_pb2.ALERT_KIND_ALERT: 1.0, alert_pb2.ALERT_KIND_AUDIT: 0.002}
