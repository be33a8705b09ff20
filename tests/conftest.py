"""Fixtures every test tier shares: one real Kafka broker per session, and fresh topics on it."""

from __future__ import annotations

import logging
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from confluent_kafka.admin import AdminClient

from fraudstream.cli.broker import BrokerConfig, LocalKafka
from fraudstream.cli.kafka_admin import ensure_topics, topic_partitions

logger = logging.getLogger(__name__)

# Point this at a running broker (`fraudstream kafka start`, docker compose) to
# skip starting one per session; the fixture then only ensures the topics.
TEST_KAFKA_BOOTSTRAP_ENV = "FRAUDSTREAM_TEST_KAFKA_BOOTSTRAP"
# Cold start including a first Maven fetch of the jars is about a minute.
_BROKER_START_TIMEOUT = 120.0


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports the OS reports free on loopback (bound together, then released)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


@pytest.fixture
def free_ports() -> Callable[[int], list[int]]:
    """A function giving `count` distinct free loopback ports (for servers a test starts)."""
    return _free_ports


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bootstrap address of a real Kafka broker holding DESIGN.md's topics.

    Starts one KRaft broker for the whole session on free ports in a temporary
    data directory and stops it at the end, or uses the broker named by
    $FRAUDSTREAM_TEST_KAFKA_BOOTSTRAP.
    """
    external = os.environ.get(TEST_KAFKA_BOOTSTRAP_ENV)
    if external:
        ensure_topics(external, topic_partitions())
        yield external
        return
    port, controller_port = _free_ports(2)
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
