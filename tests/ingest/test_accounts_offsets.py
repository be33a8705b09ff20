"""Account snapshots against the broker's committed offsets (a real broker, no bridge process).

A bridge killed after its first snapshot but before a confirmed commit passed it must still find
a snapshot at or before the committed offset: otherwise its state restarts empty there and the
features of the accounts it held undercount.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from fraudstream.common.codec import decode_transaction, encode_transaction
from fraudstream.ingest.accounts import PartitionAccounts
from fraudstream.ingest.batch import Batch
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.model.accounts import compute_account_features
from fraudstream.v1.transaction_pb2 import Transaction

pytestmark = pytest.mark.integration
EVENTS, BATCH = 300, 50
RESUMED = 50  # the committed offset the second incarnation resumes from


def _produce(bootstrap: str, topic: str) -> list[Transaction]:
    """Few accounts that recur, so every feature depends on the history before it."""
    txs = [Transaction(event_id=f"e{i}", step=1 + i // 20, amount=10.0 + i) for i in range(EVENTS)]
    for i, tx in enumerate(txs):
        tx.name_orig, tx.name_dest = f"C{i % 7}", f"M{i % 5}"
    producer = Producer({"bootstrap.servers": bootstrap})
    for tx in txs:
        producer.produce(topic, encode_transaction(tx), tx.name_orig.encode())
    assert producer.flush(30) == 0
    return txs


def _snapshot_offsets(directory: Path) -> list[int]:
    return sorted(int(path.stem) for path in directory.rglob("*.state"))


class _Member:
    """One incarnation of a bridge's consumer and its account state, driven by hand."""

    def __init__(self, bootstrap: str, group: str, directory: Path) -> None:
        self.metrics = IngestMetrics()
        self.accounts = PartitionAccounts(directory, self.metrics, 1000, snapshot_seconds=0)
        config = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **self.accounts.consumer_config(),
        }
        on_commit = config["on_commit"]
        self.results: list[object] = []

        def observed(error: object, offsets: list[TopicPartition]) -> None:
            on_commit(error, offsets)
            self.results.append(error)

        config["on_commit"] = observed
        self.consumer = Consumer(config)
        self.pending: list[Message] = []

    def assign(self, topic: str) -> None:
        # A bridge is assigned after joining its group; here the group's coordinator may still
        # be on its way for a fresh group name.
        deadline = time.monotonic() + 30
        while True:
            try:
                self.consumer.committed([TopicPartition(topic, 0)], timeout=10)
                break
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        resumed = self.accounts.assign(self.consumer, [TopicPartition(topic, 0)])
        self.consumer.assign(resumed)

    def consume(self, count: int) -> list[Message]:
        messages, self.pending = self.pending[:count], self.pending[count:]
        while len(messages) < count:
            batch = self.consumer.consume(count - len(messages), timeout=10)
            assert batch, "no more messages"
            messages.extend(m for m in batch if m.error() is None)
        return messages

    def enrich(self, messages: list[Message]) -> Batch:
        batch = Batch(seq=1, batch_id="b")
        for message in messages:
            batch.transactions.append(decode_transaction(message.value()))
            batch.sources.append((message.topic(), message.partition(), message.offset()))
        self.accounts.enrich(batch)
        return batch

    def commit(self, topic: str, offset: int, confirmed: bool) -> None:
        """Request a commit (as the bridge does after routing); `confirmed`: the broker has it."""
        offsets = [TopicPartition(topic, 0, offset)]
        if confirmed:
            # Asynchronous, as the bridge commits; polling serves the result to on_commit (the
            # messages it returns are kept for later).
            self.results.clear()
            self.consumer.commit(offsets=offsets, asynchronous=True)
            deadline = time.monotonic() + 10
            while self.results != [None] and time.monotonic() < deadline:
                self.pending.extend(m for m in [self.consumer.poll(0.1)] if m is not None)
            assert self.results == [None], "the commit was not confirmed"
        self.accounts.committed(offsets)


def test_a_kill_before_a_confirmed_commit_passes_the_first_snapshot_loses_no_history(
    kafka_bootstrap, kafka_topic_factory, tmp_path
) -> None:
    topic = kafka_topic_factory(1)
    txs = _produce(kafka_bootstrap, topic)
    group = f"g-{uuid.uuid4().hex[:8]}"
    first = _Member(kafka_bootstrap, group, tmp_path)
    first.assign(topic)
    for end in range(BATCH, 250, BATCH):
        first.enrich(first.consume(BATCH))
        if end > BATCH:
            # The previous batch is routed (this one is in flight): its commit is requested and
            # a snapshot saved at `end`, ahead of it. The broker confirms only the first commit
            # (50); the process dies before any confirmed commit passes the first snapshot (100).
            first.commit(topic, end - BATCH, confirmed=end - BATCH <= RESUMED)
    first.consumer.close()  # kill -9: no final snapshot, no commit
    # The empty state where the partition started, and the periodic ones ahead of the commits.
    assert _snapshot_offsets(tmp_path) == [0, 100, 150, 200]
    assert first.metrics.account_state_bytes._value.get() > 0

    second = _Member(kafka_bootstrap, group, tmp_path)
    second.assign(topic)
    served: dict[str, list[float]] = {}
    while len(served) < EVENTS - RESUMED:
        batch = second.enrich(second.consume(BATCH))
        served.update((tx.event_id, list(tx.account_features)) for tx in batch.transactions)
    # A confirmed commit prunes what a restart can no longer need (the newest two at or
    # before it are kept); then the snapshot due after the commit is saved.
    second.commit(topic, EVENTS, confirmed=True)
    second.consumer.close()
    assert _snapshot_offsets(tmp_path) == [150, 200, EVENTS]

    expected = compute_account_features(
        [t.step for t in txs], [t.name_orig for t in txs], [t.name_dest for t in txs],
        [t.amount for t in txs],
    )  # fmt: skip
    resumed = range(RESUMED, EVENTS)
    assert sorted(served, key=lambda e: int(e[1:])) == [f"e{i}" for i in resumed]
    got = np.asarray([served[f"e{i}"] for i in resumed])
    np.testing.assert_allclose(got, expected[RESUMED:], rtol=0, atol=1e-9)
