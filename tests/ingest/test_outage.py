"""A broker outage under load: the bridge stays bounded, reports it, and resumes by itself.

This test starts its own broker (the session's must stay up for the others) and stops and
starts it while events flow.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from grpc_health.v1 import health_pb2

from fraudstream.cli.kafka.admin import ensure_topics
from fraudstream.cli.kafka.broker import LocalKafka
from fraudstream.cli.kafka.config import BrokerConfig
from fraudstream.common.codec import encode_transaction

pytestmark = pytest.mark.integration

SERVING = health_pb2.HealthCheckResponse.SERVING
OUTAGE_SECONDS = 20.0
MAX_IN_FLIGHT = 4


@pytest.fixture
def own_broker(tmp_path: Path, free_ports) -> Iterator[LocalKafka]:
    port, controller_port = free_ports(2)
    broker = LocalKafka(
        BrokerConfig(data_dir=tmp_path / "kafka", port=port, controller_port=controller_port)
    )
    try:
        broker.start(timeout=120)
        yield broker
    finally:
        broker.stop()


def _scored_ids(bootstrap: str, topic: str, want: set[str], timeout: float) -> set[str]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not want <= seen:
            for message in consumer.consume(num_messages=1000, timeout=0.5):
                if message.error() is None:
                    seen.add(message.key().decode())
    finally:
        consumer.close()
    return seen


def _diagnosis(bootstrap: str, ingest, missing: set[str]) -> str:
    """What a reader needs when events were not scored: which, where the group's offsets are,
    what the bridge reports, and the end of its log."""
    rows = sorted(int(event_id.split("-")[1]) for event_id in missing)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-outage"})
    try:
        partitions = [TopicPartition("outage.tx", p) for p in range(4)]
        committed = consumer.committed(partitions, timeout=10)
        ends = [consumer.get_watermark_offsets(p, timeout=10) for p in partitions]
    finally:
        consumer.close()
    offsets = ", ".join(
        f"{p.partition}: committed {p.offset} of [{low}, {high})"
        for p, (low, high) in zip(committed, ends, strict=True)
    )
    body = urllib.request.urlopen(f"http://127.0.0.1:{ingest.metrics_port}/metrics").read()
    shown = [
        line
        for line in body.decode().splitlines()
        if line.startswith("ingest_") and "_bucket" not in line and "_created" not in line
    ]
    return (
        f"{len(missing)} events not scored, rows {rows[0]}..{rows[-1]}; outage.tx {offsets}\n"
        + "\n".join(shown)
        + "\n"
        + ingest.log()[-6000:]
    )


def test_a_broker_outage_is_survived_bounded_and_without_loss(
    own_broker, start_service, running_scorer, good_transaction
):
    bootstrap = own_broker.config.bootstrap
    topics = {"tx": 4, "scored": 4, "alerts": 1, "dlq": 1}
    ensure_topics(bootstrap, {f"outage.{name}": n for name, n in topics.items()})
    ingest = start_service(
        "ingest",
        "--kafka-bootstrap",
        bootstrap,
        "--group-id",
        "g-outage",
        "--transactions-topic",
        "outage.tx",
        "--scored-topic",
        "outage.scored",
        "--alerts-topic",
        "outage.alerts",
        "--dlq-topic",
        "outage.dlq",
        "--scorer-addr",
        running_scorer.address,
        "--feedback-addr",
        "",
        "--stall-seconds",
        "5",
        "--max-in-flight",
        str(MAX_IN_FLIGHT),
        "--batch-size",
        "64",
    )
    ingest.wait_until_serving(timeout=60)

    # Events flow at ~300/s before, during and after the outage; the replayer's own producer
    # holds them while the broker is away.
    sent: list[str] = []
    undelivered: list[str] = []  # the replayer's own losses, told apart from the bridge's
    flushed = threading.Event()
    done = threading.Event()

    def delivered(error, message) -> None:
        if error is not None:
            undelivered.append(f"{message.key().decode()}: {error}")

    def produce() -> None:
        producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "linger.ms": 5,
                # Its connection errors during the outage go to the test's log, not stderr.
                "logger": logging.getLogger("outage.replayer"),
            }
        )
        row = 0
        while not done.is_set():
            event_id = f"o-{row}"
            producer.produce(
                "outage.tx",
                encode_transaction(good_transaction(event_id)),
                event_id.encode(),
                on_delivery=delivered,
            )
            sent.append(event_id)
            producer.poll(0)
            row += 1
            time.sleep(1 / 300)
        if producer.flush(120) == 0:
            flushed.set()

    replayer = threading.Thread(target=produce)
    replayer.start()
    try:
        time.sleep(3)
        own_broker.stop()
        outage_started = time.monotonic()
        health_during: list[int] = []
        in_flight_max = 0.0
        while time.monotonic() - outage_started < OUTAGE_SECONDS:
            health_during.append(ingest.health())
            in_flight_max = max(in_flight_max, ingest.metric("ingest_in_flight_batches"))
            time.sleep(0.5)
        assert ingest.process.poll() is None, ingest.log()[-3000:]
        assert in_flight_max <= MAX_IN_FLIGHT

        restarted = time.monotonic()
        own_broker.start(timeout=120)
        broker_back = time.monotonic() - restarted
        time.sleep(2)
    finally:
        done.set()
        replayer.join(timeout=180)
    assert flushed.is_set(), "the replayer could not deliver its events within 120 s"
    assert undelivered == [], f"{len(undelivered)} events the replayer lost: {undelivered[:3]}"

    want = set(sent)
    seen = _scored_ids(bootstrap, "outage.scored", want, timeout=120)
    recovered = time.monotonic() - restarted
    missing = want - seen
    assert not missing, _diagnosis(bootstrap, ingest, missing)
    deadline = time.monotonic() + 30
    while ingest.health() != SERVING and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ingest.health() == SERVING
    stalled_seen = health_during.count(health_pb2.HealthCheckResponse.NOT_SERVING)
    print(
        f"outage {OUTAGE_SECONDS:.0f}s: health NOT_SERVING in {stalled_seen}/{len(health_during)} "
        f"samples, at most {in_flight_max:.0f} batches in flight; broker up again after "
        f"{broker_back:.1f}s, all {len(want)} events scored {recovered:.1f}s after the restart"
    )
