"""A batch the scorer fails: the bridge splits it, dead-letters only the poison, and never stalls
(a real broker, a real scorer, real processes)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from google.protobuf import json_format

from fraudstream.common.codec import encode_transaction
from fraudstream.v1.transaction_pb2 import Transaction

pytestmark = pytest.mark.integration
TESTDATA = Path(__file__).parent / "testdata"


def _ids(messages) -> list[str]:
    return [m.key().decode() for m in messages]


def test_a_batch_the_scorer_fails_is_split_and_only_the_poison_dead_lettered(
    start_service,
    poisoned_scorer,
    pipeline_topics,
    kafka_bootstrap,
    read_topic,
    good_transaction,
    poison_transaction,
):
    ingest = start_service(
        "ingest",
        *pipeline_topics.ingest_args(kafka_bootstrap, "g-poison"),
        "--scorer-addr",
        poisoned_scorer,
        "--feedback-addr",
        "",
    )
    ingest.wait_until_serving()
    n = 400
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for row in range(n):
        producer.produce(
            pipeline_topics.transactions,
            encode_transaction(good_transaction(f"good-{row}")),
            b"k",
            partition=row % 4,
        )
        if row == n // 2:
            poison = encode_transaction(poison_transaction("poison-1"))
            producer.produce(pipeline_topics.transactions, poison, b"k", partition=row % 4)
    producer.flush(10)
    started = time.monotonic()

    scored = read_topic(pipeline_topics.scored, lambda ms: len(set(_ids(ms))) >= n, timeout=60)
    assert set(_ids(scored)) == {f"good-{row}" for row in range(n)}, ingest.log()[-3000:]
    assert time.monotonic() - started < 20, "the good events around the poison came late"
    dead = read_topic(pipeline_topics.dlq, lambda ms: len(ms) >= 1, timeout=20)
    assert len(dead) == 1
    headers = dict(dead[0].headers())
    assert headers["dlq.reason"] == b"unscorable"
    assert b"infinity" in headers["dlq.message"]
    assert headers["dlq.source.topic"].decode() == pipeline_topics.transactions
    assert Transaction.FromString(dead[0].value()).event_id == "poison-1"
    assert ingest.metric('ingest_dead_letters_total{reason="unscorable"}') == 1


def test_the_real_scorer_failing_a_batch_does_not_stall_the_bridge(
    start_service, running_scorer, pipeline_topics, kafka_bootstrap, read_topic, good_transaction
):
    ingest = start_service(
        "ingest",
        *pipeline_topics.ingest_args(kafka_bootstrap, "g-overflow"),
        "--scorer-addr",
        running_scorer.address,
        "--feedback-addr",
        "",
    )
    ingest.wait_until_serving()
    record = json.loads((TESTDATA / "overflowing_transaction.json").read_text())["transaction"]
    overflowing = json_format.ParseDict(record, Transaction())
    n = 200
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for row in range(n):
        value = encode_transaction(good_transaction(f"fine-{row}"))
        producer.produce(pipeline_topics.transactions, value, b"k", partition=0)
        if row == n // 2:
            value = encode_transaction(overflowing)
            producer.produce(pipeline_topics.transactions, value, b"k", partition=0)
    producer.flush(10)

    scored = read_topic(pipeline_topics.scored, lambda ms: len(set(_ids(ms))) >= n, timeout=60)
    assert set(_ids(scored)) == {f"fine-{row}" for row in range(n)}, ingest.log()[-3000:]
    dead = read_topic(pipeline_topics.dlq, lambda ms: len(ms) >= 1, timeout=20)
    assert [Transaction.FromString(m.value()).event_id for m in dead] == ["overflow-1"]
    # "unscorable" while the scorer fails the batch; an item error once it rejects the item.
    reason = dict(dead[0].headers())["dlq.reason"].decode()
    assert reason == "unscorable" or reason.startswith("invalid_"), reason
