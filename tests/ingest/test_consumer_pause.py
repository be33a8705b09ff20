"""The consumer loop's pause across rebalances (a real broker, the loop driven without a bridge).

librdkafka keeps a partition's pause flag when it is unassigned and assigned again. A bridge
whose window was full when a partition left it, and that had resumed (or lost everything)
before the partition came back, must still fetch from it: the broker outage test lost 7,363
events to such a partition, left paused while health said SERVING.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future

import pytest
from confluent_kafka import Consumer, Producer

from fraudstream.common.codec import encode_transaction
from fraudstream.ingest.batch import Batch
from fraudstream.ingest.consumer_loop import ConsumerLoop
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.progress import Progress
from fraudstream.v1.transaction_pb2 import Transaction
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def _config(bootstrap: str, group: str) -> dict:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "partition.assignment.strategy": "cooperative-sticky",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
    }


def _produce(bootstrap: str, topic: str, prefix: str, per_partition: int) -> set[str]:
    producer = Producer({"bootstrap.servers": bootstrap})
    keys = set()
    for partition in (0, 1):
        for i in range(per_partition):
            key = f"{prefix}-{partition}-{i}"
            value = encode_transaction(Transaction(event_id=key))
            producer.produce(topic, value, key.encode(), partition=partition)
            keys.add(key)
    assert producer.flush(30) == 0
    return keys


def test_a_partition_revoked_while_paused_is_fetched_again_when_it_comes_back(
    kafka_bootstrap, kafka_topic_factory
):
    topic = kafka_topic_factory(2)
    group = f"g-pause-{uuid.uuid4().hex[:8]}"
    _produce(kafka_bootstrap, topic, "old", 5)

    metrics = IngestMetrics()
    lock = threading.Lock()
    held: list[Future[None]] = []  # routing futures the test resolves when it wants
    release = threading.Event()  # from then on, batches are routed at once
    seen: set[str] = set()

    def submit(batch: Batch) -> Future[None]:
        routed: Future[None] = Future()
        with lock:
            seen.update(tx.event_id for tx in batch.transactions)
            if release.is_set():
                routed.set_result(None)
            else:
                held.append(routed)
        return routed

    def consumed() -> set[str]:
        with lock:
            return set(seen)

    loop = ConsumerLoop(
        Consumer(_config(kafka_bootstrap, group)),
        topic,
        metrics,
        submit,
        batch_size=100,
        batch_wait_ms=20,
        max_in_flight=1,
        progress=Progress(metrics, 30.0),
        drain_seconds=0.5,
    )
    stop = threading.Event()
    runner = threading.Thread(target=loop.run, args=(stop, 1.0))
    runner.start()
    other = Consumer(_config(kafka_bootstrap, group))
    other_stop = threading.Event()
    try:

        def gauge(name: str) -> float:
            return metrics.registry.get_sample_value(name) or 0.0

        # One unrouted batch fills the window; after PAUSE_AFTER_SECONDS both partitions pause.
        wait_for(
            lambda: gauge("ingest_fetch_paused") == 1,
            30,
            "the full window pauses fetching",
            every=0.1,
        )
        assert gauge("ingest_assigned_partitions") == 2

        # A second member takes one partition away while it is paused.
        other.subscribe([topic])
        joined = threading.Thread(target=_poll_until, args=(other, other_stop))
        joined.start()
        wait_for(
            lambda: gauge("ingest_assigned_partitions") == 1,
            60,
            "a partition moves away",
            every=0.1,
        )

        # The window frees: the loop resumes what it holds (the partition that left is not).
        release.set()
        with lock:
            for routed in held:
                routed.set_result(None)
        wait_for(lambda: gauge("ingest_fetch_paused") == 0, 30, "the loop resumes", every=0.1)

        # The other member leaves; the partition comes back, and must be fetched.
        other_stop.set()
        joined.join(30)
        other.close()
        wait_for(
            lambda: gauge("ingest_assigned_partitions") == 2,
            60,
            "the partition comes back",
            every=0.1,
        )
        new = _produce(kafka_bootstrap, topic, "new", 5)
        wait_for(
            lambda: new <= consumed(), 30, "the new events of both partitions consumed", every=0.1
        )
    finally:
        other_stop.set()
        stop.set()
        runner.join(30)
        loop.consumer.close()
    assert not runner.is_alive()


def _poll_until(consumer: Consumer, stop: threading.Event) -> None:
    """Keeps a member in the group (polls serve its rebalances) until `stop`."""
    while not stop.is_set():
        consumer.poll(0.1)
