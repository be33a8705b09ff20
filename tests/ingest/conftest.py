"""Ingest fixtures: fresh topics per test, a running scorer, replay and topic readers."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message


@dataclass(frozen=True)
class PipelineTopics:
    transactions: str
    scored: str
    alerts: str
    dlq: str

    def ingest_args(self, bootstrap: str, group: str) -> list[str]:
        return [
            "--kafka-bootstrap",
            bootstrap,
            "--group-id",
            group,
            "--transactions-topic",
            self.transactions,
            "--scored-topic",
            self.scored,
            "--alerts-topic",
            self.alerts,
            "--dlq-topic",
            self.dlq,
        ]


@pytest.fixture
def pipeline_topics(kafka_topic_factory) -> PipelineTopics:
    return PipelineTopics(
        transactions=kafka_topic_factory(partitions=4),
        scored=kafka_topic_factory(partitions=4),
        alerts=kafka_topic_factory(),
        dlq=kafka_topic_factory(),
    )


@pytest.fixture
def paysim_csv(model_bundle: Path) -> Path:
    """The simulated PaySim file the session bundle was trained on."""
    return model_bundle.parent / "paysim.csv"


@pytest.fixture
def running_scorer(start_service, model_bundle):
    scorer = start_service("scorer", "--models", str(model_bundle), "--learner-addr", "")
    scorer.wait_until_serving()
    return scorer


@pytest.fixture
def replay(kafka_bootstrap, paysim_csv) -> Callable[..., subprocess.Popen[bytes]]:
    """Start `fraudstream replay` on the session's PaySim file (returns the process)."""

    def start(topic: str, limit: int, run_id: str, *extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fraudstream.cli.main",
                "replay",
                "--input",
                str(paysim_csv),
                "--bootstrap",
                kafka_bootstrap,
                "--topic",
                topic,
                "--limit",
                str(limit),
                "--run-id",
                run_id,
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    return start


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
