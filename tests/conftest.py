"""Fixtures every test tier shares: a real Kafka broker, a real model bundle, service processes
(the last in tests/processes.py)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message
from confluent_kafka.admin import AdminClient

from fraudstream.cli.kafka.admin import ensure_topics, topic_partitions
from fraudstream.cli.kafka.broker import LocalKafka
from fraudstream.cli.kafka.config import BrokerConfig
from tests.processes import free_loopback_ports

# Service processes and the credentials they run with.
pytest_plugins = ("tests.processes",)

logger = logging.getLogger(__name__)

# Point this at a running broker (`fraudstream kafka start`, docker compose) to
# skip starting one per session; the fixture then only ensures the topics.
TEST_KAFKA_BOOTSTRAP_ENV = "FRAUDSTREAM_TEST_KAFKA_BOOTSTRAP"
# Cold start including a first Maven fetch of the jars is about a minute.
_BROKER_START_TIMEOUT = 120.0


@pytest.fixture(scope="session")
def free_ports() -> Callable[[int], list[int]]:
    """A function giving `count` distinct free loopback ports (for servers a test starts)."""
    return free_loopback_ports


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bootstrap address of a real Kafka broker holding the pipeline's topics.

    Starts one KRaft broker for the whole session on free ports in a temporary
    data directory and stops it at the end, or uses the broker named by
    $FRAUDSTREAM_TEST_KAFKA_BOOTSTRAP.
    """
    external = os.environ.get(TEST_KAFKA_BOOTSTRAP_ENV)
    if external:
        ensure_topics(external, topic_partitions())
        yield external
        return
    port, controller_port = free_loopback_ports(2)
    broker = LocalKafka(
        BrokerConfig(
            data_dir=tmp_path_factory.mktemp("kafka"),
            port=port,
            controller_port=controller_port,
        )
    )
    try:
        broker.start(timeout=_BROKER_START_TIMEOUT)
        yield broker.config.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def kafka_topic_factory(
    kafka_bootstrap: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., str]]:
    """Creates topics named after the test (`test.<name>.<random>`), deleted after it."""
    created: list[str] = []
    stem = re.sub(r"[^a-zA-Z0-9._-]+", "_", request.node.name)[:180]

    def make(partitions: int = 1) -> str:
        topic = f"test.{stem}.{uuid.uuid4().hex[:8]}"
        ensure_topics(kafka_bootstrap, {topic: partitions})
        created.append(topic)
        return topic

    yield make
    if created:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        for topic, future in admin.delete_topics(created, operation_timeout=10).items():
            try:
                future.result(timeout=15)
            except Exception as exc:  # a leftover topic must not fail the test that passed
                logger.warning("could not delete test topic %s: %s", topic, exc)


@pytest.fixture
def kafka_topic(kafka_topic_factory: Callable[..., str]) -> str:
    """One fresh single-partition topic for this test."""
    return kafka_topic_factory(1)


# Rows of simulated PaySim data behind the test bundle: enough for ~100 frauds.
_BUNDLE_ROWS = 80_000


@pytest.fixture(scope="session")
def model_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model bundle trained by the real commands on simulated PaySim data (once per session).

    Returns the bundle directory; its parent also holds `paysim.csv` and `features.parquet`.
    """
    work = tmp_path_factory.mktemp("bundle")
    csv, parquet, models = work / "paysim.csv", work / "features.parquet", work / "models"
    for args in (
        ["data", "simulate", "--rows", str(_BUNDLE_ROWS), "--seed", "11", "--out", str(csv)],
        ["data", "features", "--input", str(csv), "--output", str(parquet)],
        ["train", "all", "--input", str(parquet), "--models", str(models)],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "fraudstream.cli.main", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"fraudstream {' '.join(args)} failed:\n{result.stderr}"
    return models


@pytest.fixture(scope="session")
def account_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained with the account features (`--accounts`) on simulated data with the
    stateful patterns; its parent also holds `paysim.csv`."""
    work = tmp_path_factory.mktemp("account-bundle")
    csv, parquet, models = work / "paysim.csv", work / "features.parquet", work / "models"
    patterns = [f"--pattern={p}=0.002" for p in ("mule_fan_in", "takeover_burst", "structuring")]
    for args in (
        [
            "data",
            "simulate",
            "--rows",
            str(_BUNDLE_ROWS),
            "--seed",
            "11",
            "--out",
            str(csv),
            *patterns,
        ],
        ["data", "features", "--accounts", "--input", str(csv), "--output", str(parquet)],
        ["train", "all", "--accounts", "--input", str(parquet), "--models", str(models)],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "fraudstream.cli.main", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"fraudstream {' '.join(args)} failed:\n{result.stderr}"
    return models


# --- credentials: tokens and certificates every process test runs with ----------


@pytest.fixture
def read_topic(kafka_bootstrap) -> Callable[..., list[Message]]:
    """Read a topic from the start until `until(messages)` holds or `timeout` passes."""

    def read(
        topic: str, until: Callable[[list[Message]], bool], timeout: float = 60.0
    ) -> list[Message]:
        consumer = Consumer(
            {
                "bootstrap.servers": kafka_bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([topic])
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and not until(messages):
                for message in consumer.consume(num_messages=1000, timeout=0.5):
                    if message.error() is None:
                        messages.append(message)
        finally:
            consumer.close()
        return messages

    return read
