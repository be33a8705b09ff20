"""The Flink path end to end: the job's `transactions.enriched` into a bridge run with
`--account-features flink`, scored by a bundle trained with account features."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from confluent_kafka import Producer
from google.protobuf import json_format

from fraudstream.common.codec import JSON, encode_transaction
from fraudstream.model.accounts import (
    ACCOUNT_FEATURE_NAMES,
    ACCOUNT_FEATURES,
    compute_account_features,
)
from fraudstream.model.features import FEATURE_NAMES
from fraudstream.model.schema import ACCOUNT_SCHEMA
from fraudstream.v1 import score_pb2
from fraudstream.v1.transaction_pb2 import Transaction

pytestmark = pytest.mark.integration

PARTITIONS = 2  # of the session's topics (conftest.PARTITIONS)
EVENTS = 1_500
# Far past any step the session job's other tests use (its clock only moves forward), and a
# whole number of days, so the hour-of-day features are those of the file.
STEP_OFFSET = 24 * 5_000


def _events(csv: Path) -> list[Transaction]:
    frame = pd.read_csv(csv, nrows=EVENTS)
    out = []
    for i, row in enumerate(frame.itertuples()):
        tx = json_format.ParseDict(
            {"event_id": f"scorer-{i}", "type": f"TRANSACTION_TYPE_{row.type}"}, Transaction()
        )
        tx.step, tx.amount = row.step + STEP_OFFSET, row.amount
        tx.name_orig, tx.name_dest = f"S{row.nameOrig}", f"S{row.nameDest}"
        tx.old_balance_orig, tx.new_balance_orig = row.oldbalanceOrg, row.newbalanceOrig
        tx.old_balance_dest, tx.new_balance_dest = row.oldbalanceDest, row.newbalanceDest
        out.append(tx)
    # One event of a fresh account per partition at a later step moves every partition's
    # event-time past the last one, so the job writes them all.
    last = out[-1].step + 1
    flush = [
        Transaction(event_id=f"scorer-flush-{p}", step=last, type=2, amount=1.0,
                    name_orig=f"SF{p}", name_dest=f"SFD{p}")
        for p in range(PARTITIONS)
    ]  # fmt: skip
    return out + flush


def test_the_bridge_scores_the_flink_jobs_features(
    flink_session: Any, account_bundle: Path, start_service, kafka_topic_factory, read_topic
) -> None:
    topics = flink_session.topics
    transactions = _events(account_bundle.parent / "paysim.csv")
    producer = Producer({"bootstrap.servers": topics.bootstrap, "enable.idempotence": True})
    for i, tx in enumerate(transactions):
        extra = {"partition": i - EVENTS} if tx.event_id.startswith("scorer-flush") else {}
        producer.produce(topics.source, encode_transaction(tx, JSON), tx.name_orig, **extra)
    assert producer.flush(30) == 0
    scorer = start_service("scorer", "--models", str(account_bundle), "--learner-addr", "")
    scorer.wait_until_serving()
    scored, alerts, dlq = (kafka_topic_factory(1) for _ in range(3))
    start_service(
        "ingest",
        *("--kafka-bootstrap", topics.bootstrap, "--group-id", f"g-{scored}"),
        *("--account-features", "flink", "--enriched-topic", topics.sink),
        *("--scored-topic", scored, "--alerts-topic", alerts, "--dlq-topic", dlq),
        *("--scorer-addr", scorer.address, "--feedback-addr", ""),
    )
    wanted = {tx.event_id for tx in transactions[:EVENTS]}

    def ours(messages: list) -> set[str]:
        return {m.key().decode() for m in messages} & wanted

    read = read_topic(scored, lambda m: ours(m) == wanted, timeout=240)
    scores = {s.event_id: s for s in (score_pb2.Score.FromString(m.value()) for m in read)}
    written = read_topic(topics.sink, lambda m: False, timeout=10)
    enriched = {
        value["transaction"]["event_id"]: value["account_features"]
        for value in (json.loads(m.value()) for m in written)
    }
    assert wanted <= scores.keys(), f"{len(wanted - scores.keys())} events not scored"
    width = len(FEATURE_NAMES)
    origin = [i for i, f in enumerate(ACCOUNT_FEATURES.features) if f.key == "name_orig"]
    mine = transactions[:EVENTS]
    offline = compute_account_features(
        [t.step for t in mine], [t.name_orig for t in mine], [t.name_dest for t in mine],
        [t.amount for t in mine],
    )  # fmt: skip
    for tx, expected in zip(mine, offline, strict=True):
        score = scores[tx.event_id]
        assert not score.HasField("error"), score.error.message
        assert score.features.schema_hash == ACCOUNT_SCHEMA.hash
        served = np.asarray(score.features.values[width:])
        # What the bridge served is what the job wrote, in the definition's order ...
        np.testing.assert_array_equal(
            served, [enriched[tx.event_id][name] for name in ACCOUNT_FEATURE_NAMES]
        )
        # ... and the origin features are the offline path's (destination features may order
        # same-step events of two partitions otherwise: docs/flink.md).
        np.testing.assert_allclose(served[origin], expected[origin], rtol=0, atol=1e-9)
