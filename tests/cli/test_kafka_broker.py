"""The real Kafka broker: the topics, a message round trip, and `fraudstream kafka` itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from fraudstream.cli.kafka.admin import HIGH_VOLUME_TOPICS, list_topics
from fraudstream.common.names import TOPICS, TRANSACTIONS

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
TRANSACTION_FILE = Path(__file__).with_name("testdata") / "transaction.json"


def _produce_one(bootstrap: str, topic: str, key: bytes, value: bytes, headers: list) -> Message:
    """Produce one message and return its delivery report (topic, partition, offset)."""
    delivered: list[Message] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        assert err is None, err
        delivered.append(msg)

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce(topic, key=key, value=value, headers=headers, on_delivery=on_delivery)
    assert producer.flush(15) == 0, "message not delivered within 15 s"
    return delivered[0]


def _consume_one(consumer: Consumer, timeout: float = 30.0) -> Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        return msg
    raise AssertionError(f"no message within {timeout} s")


def test_design_topics_exist_after_start(kafka_bootstrap: str) -> None:
    topics = list_topics(kafka_bootstrap)

    assert set(TOPICS) <= set(topics)
    assert all(topics[topic] >= 1 for topic in TOPICS)


def test_transaction_round_trips_through_the_transactions_topic(kafka_bootstrap: str) -> None:
    value = TRANSACTION_FILE.read_bytes()
    key = json.loads(value)["name_orig"].encode()
    headers = [("content-type", b"application/json"), ("trace", uuid.uuid4().bytes)]

    report = _produce_one(kafka_bootstrap, TRANSACTIONS, key, value, headers)
    partition, offset = report.partition(), report.offset()
    assert partition is not None and offset is not None
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        # Read exactly where it landed: the shared topic may hold other tests' messages.
        consumer.assign([TopicPartition(TRANSACTIONS, partition, offset)])
        msg = _consume_one(consumer)
    finally:
        consumer.close()

    assert (msg.topic(), msg.partition(), msg.offset()) == (TRANSACTIONS, partition, offset)
    assert msg.key() == key
    assert msg.value() == value
    assert msg.headers() == headers


def test_consumer_group_receives_what_was_produced(kafka_bootstrap: str, kafka_topic: str) -> None:
    headers = [("schema", b"fraudstream.v1.Transaction")]
    _produce_one(kafka_bootstrap, kafka_topic, b"C42", b"\x08\x01", headers)
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([kafka_topic])
        msg = _consume_one(consumer, timeout=45.0)
    finally:
        consumer.close()

    assert (msg.key(), msg.value(), msg.headers()) == (b"C42", b"\x08\x01", headers)


def _fraudstream(*args: str, timeout: float = 150.0) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("fraudstream")
    command = str(executable) if executable.exists() else shutil.which("fraudstream")
    assert command, "the fraudstream console script is not installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDSTREAM_")}
    return subprocess.run(
        [command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )


def _process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # exited; only its parent (init) has yet to reap it


def test_cli_start_status_stop(tmp_path: Path, free_ports: Callable[[int], list[int]]) -> None:
    port, controller_port = free_ports(2)
    data_dir = str(tmp_path / "kafka")
    try:
        before = _fraudstream("kafka", "status", "--data-dir", data_dir)
        assert before.returncode == 1, before.stdout + before.stderr
        assert "not running" in before.stdout

        started = _fraudstream(
            "kafka", "start", "--data-dir", data_dir, "--port", str(port),
            "--controller-port", str(controller_port), "--partitions", "2",
        )  # fmt: skip
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"127.0.0.1:{port}" in started.stdout

        status = _fraudstream("kafka", "status", "--data-dir", data_dir, "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert report["running"] is True
        assert report["bootstrap"] == f"127.0.0.1:{port}"
        assert report["topics"] == {
            topic: 2 if topic in HIGH_VOLUME_TOPICS else 1 for topic in TOPICS
        }
        pid = report["pid"]

        stopped = _fraudstream("kafka", "stop", "--data-dir", data_dir)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert f"stopped Kafka broker pid {pid}" in stopped.stdout
        assert _process_gone(pid)

        after = _fraudstream("kafka", "status", "--data-dir", data_dir, "--json")
        assert after.returncode == 1
        assert json.loads(after.stdout)["running"] is False
    finally:
        # Whatever failed above, leave no broker behind.
        _fraudstream("kafka", "stop", "--data-dir", data_dir)
