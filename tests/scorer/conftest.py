"""In-process scorer fixtures: build_server() on port 0 with the session's real bundle."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format

from fraudstream.common.grpc_server import GrpcService
from fraudstream.model.snapshot import seal, snapshot_of
from fraudstream.scorer.server import ScorerDeps, build_server
from fraudstream.scorer.serving_model import ModelHolder, ServingModel, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1 import model_pb2, scoring_service_pb2_grpc
from fraudstream.v1.transaction_pb2 import Transaction

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
MAX_BATCH = 1024


@pytest.fixture(scope="session")
def sample_transactions() -> list[Transaction]:
    """Six PaySim-like transactions (legitimate and account-takeover shapes)."""
    records = json.loads((TESTDATA / "scorer_transactions.json").read_text())
    return [json_format.ParseDict(record, Transaction()) for record in records]


@dataclass
class RunningScorer:
    service: GrpcService
    deps: ScorerDeps
    stub: scoring_service_pb2_grpc.ScoringServiceStub
    channel: grpc.Channel
    max_batch: int = MAX_BATCH


@pytest.fixture
def scorer(model_bundle: Path) -> Iterator[RunningScorer]:
    """A started in-process scorer serving the session bundle, and a stub connected to it."""
    deps = ScorerDeps(holder=ModelHolder(load_serving_model(model_bundle)))
    settings = ScorerSettings(
        port=0, learner_addr="", insecure_allow_anonymous=True, max_batch_size=MAX_BATCH
    )
    service = build_server(settings, deps)
    service.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{service.port}")
    yield RunningScorer(
        service, deps, scoring_service_pb2_grpc.ScoringServiceStub(channel), channel
    )
    channel.close()
    service.stop(0)


def shifted_snapshot(
    model: ServingModel, version: int, intercept_shift: float = 0.0
) -> model_pb2.ModelSnapshot:
    """A sealed snapshot of `model`'s classifier with its intercept moved by `intercept_shift`."""
    linear = model.ensemble.classifier
    assert linear is not None
    return snapshot_of(
        replace(linear, intercept=linear.intercept + intercept_shift),
        model.ensemble.thresholds,
        version=version,
        bundle_version=model.bundle_version,
        feature_schema_hash=model.ensemble.feature_schema_hash,
    )


@pytest.fixture
def make_snapshot():
    """shifted_snapshot(model, version, intercept_shift): a sealed snapshot of a served model."""
    return shifted_snapshot


# Moves the challenger's log-odds far enough that some of its decisions differ.
SHIFT = 4.0


def challenger_snapshot(
    model: ServingModel, version: int = 1, label_position: int = 10, shift: float = SHIFT
) -> model_pb2.ModelSnapshot:
    snapshot = shifted_snapshot(model, version, shift)
    snapshot.role = model_pb2.SNAPSHOT_ROLE_CHALLENGER
    snapshot.label_position = label_position
    return seal(snapshot)


@pytest.fixture(scope="module")
def served(model_bundle) -> ServingModel:
    return load_serving_model(model_bundle)


@pytest.fixture
def batch_in(sample_transactions) -> list[Transaction]:
    """The samples with varied amounts (different risks), and two invalid items."""
    batch = []
    for k in range(40):
        for t in sample_transactions:
            varied = Transaction()
            varied.CopyFrom(t)
            varied.event_id = f"{t.event_id}-{k}"
            varied.amount = t.amount * (0.2 + 0.05 * k)
            batch.append(varied)
    return [*batch, Transaction(event_id="neg", type=1, amount=-1.0), Transaction(type=1)]
