"""Fixtures of the Flink tests: the feature specs, the hand-made stream, one job per session."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from fraudstream.cli.flink.job import FlinkJobConfig, LocalFlinkJob
from fraudstream.cli.flink.runtime import FlinkRuntime
from fraudstream.cli.flink.sql import KafkaTopics
from fraudstream.cli.kafka.admin import ensure_topics
from fraudstream.cli.ports import free_port
from fraudstream.model.accounts import ACCOUNT_FEATURES, AccountFeature

logger = logging.getLogger(__name__)

TESTDATA = Path(__file__).parent / "testdata"
# Cold start of the MiniCluster is about 25 s on two busy cores; a first venv install more.
_START_TIMEOUT = 240.0
PARTITIONS = 2


@pytest.fixture(scope="session")
def account_specs() -> Sequence[AccountFeature]:
    """The one definition of the account features (libs/model), which the job's SQL follows."""
    return ACCOUNT_FEATURES.features


@pytest.fixture(scope="session")
def hand_stream() -> dict[str, object]:
    """testdata/stream.json: the events before and after the restart and the known answers."""
    return json.loads((TESTDATA / "stream.json").read_text())  # type: ignore[no-any-return]


@dataclass
class FlinkSession:
    """The session's job and the topics it reads and writes."""

    job: LocalFlinkJob
    topics: KafkaTopics
    specs: Sequence[AccountFeature]


@pytest.fixture(scope="session")
def flink_session(
    kafka_bootstrap: str,
    account_specs: Sequence[AccountFeature],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FlinkSession]:
    """The account-feature job on the session broker, on topics of its own (started once)."""
    runtime = FlinkRuntime.locate()
    runtime.ensure()
    suffix = uuid.uuid4().hex[:8]
    topics = KafkaTopics(
        bootstrap=kafka_bootstrap,
        source=f"test.flink.transactions.{suffix}",
        sink=f"test.flink.enriched.{suffix}",
        group_id=f"test-flink-{suffix}",
    )
    ensure_topics(kafka_bootstrap, {topics.source: PARTITIONS, topics.sink: PARTITIONS})
    job = LocalFlinkJob(
        FlinkJobConfig(
            data_dir=tmp_path_factory.mktemp("flink"),
            topics=topics,
            rest_port=free_port(),
            parallelism=PARTITIONS,
            checkpoint_interval_s=2.0,
            metrics_port=free_port(),
        ),
        runtime,
    )
    job.launch(account_specs)
    try:
        job.wait_running(_START_TIMEOUT)
        yield FlinkSession(job, topics, account_specs)
    finally:
        job.stop()
