"""Ingest fixtures: fresh topics per test, running scorers (one that fails batches), readers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from fraudstream.scorer import server as scorer_server
from fraudstream.scorer.engine import ScoredBatch, ScoringEngine
from fraudstream.scorer.server import ScorerDeps
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1.transaction_pb2 import Transaction


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


# --- an in-process scorer that fails whole batches ---------------------------------

TESTDATA = Path(__file__).parent / "testdata"
# Above this amount the poisoned engine fails the whole request, as a model whose arithmetic
# overflows on a finite but extreme value does (UNKNOWN "Input X contains infinity").
POISON_AMOUNT = 1e300


def _routing_items() -> list[dict[str, Any]]:
    return json.loads((TESTDATA / "routing_batch.json").read_text())["items"]  # type: ignore[no-any-return]


@pytest.fixture
def good_transaction() -> Callable[[str], Transaction]:
    """Makes a valid PAYMENT the scorer scores, with the given event id."""
    record = _routing_items()[0]["transaction"]
    return lambda event_id: json_format.ParseDict({**record, "eventId": event_id}, Transaction())


@pytest.fixture
def poison_transaction() -> Callable[[str], Transaction]:
    """Makes a transaction with finite but extreme values (amount 1e308)."""
    record = next(i for i in _routing_items() if "unscorable" in i)["transaction"]
    return lambda event_id: json_format.ParseDict({**record, "eventId": event_id}, Transaction())


class PoisonedEngine(ScoringEngine):
    """The real engine, except that a batch holding an amount over POISON_AMOUNT fails whole."""

    def score(self, transactions: Sequence[Transaction]) -> ScoredBatch:
        if any(t.amount > POISON_AMOUNT for t in transactions):
            raise ValueError("Input X contains infinity or a value too large for dtype('float64').")
        return super().score(transactions)


@pytest.fixture
def poisoned_scorer(
    model_bundle: Path, monkeypatch: pytest.MonkeyPatch, credentials: Any
) -> Iterator[str]:
    """An in-process scorer (build_server on port 0) with PoisonedEngine; yields its address.

    It reads the session's tokens file, so bridge processes get in with their service token.
    """
    monkeypatch.setattr(scorer_server, "ScoringEngine", PoisonedEngine)
    deps = ScorerDeps(holder=ModelHolder(load_serving_model(model_bundle)))
    service = scorer_server.build_server(
        ScorerSettings(port=0, learner_addr="", analyst_tokens_file=credentials.tokens_file),
        deps,
    )
    service.start()
    yield f"127.0.0.1:{service.port}"
    service.stop(0)
