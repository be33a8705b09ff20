"""A learner and real in-process scorers synced to it, for the SyncModels tests.

The learner is the real server from build_server(); the scorers are real in-process scorer
servers whose SnapshotSync client talks to it. Labels go straight into the learner core
(the feedback side is covered by the process test).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format

from fraudstream.common.grpc_server import GrpcService
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.server import LearnerDeps, build_server, open_deps
from fraudstream.learner.settings import LearnerSettings
from fraudstream.scorer.server import ScorerDeps
from fraudstream.scorer.server import build_server as build_scorer
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.scorer.sync import SnapshotSync
from fraudstream.v1 import (
    alert_pb2,
    learner_service_pb2,
    learner_service_pb2_grpc,
    scoring_service_pb2,
    scoring_service_pb2_grpc,
)
from fraudstream.v1.transaction_pb2 import Transaction

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"
BATCH = 32


@dataclass
class RunningLearner:
    deps: LearnerDeps
    service: GrpcService
    address: str
    stub: learner_service_pb2_grpc.LearnerServiceStub

    def feed(self, examples: list[alert_pb2.LabeledExample]) -> int:
        """Apply labels as if they had just been recorded (label_time now)."""
        fresh = []
        now = time.time_ns()
        for example in examples:
            copy = alert_pb2.LabeledExample()
            copy.CopyFrom(example)
            copy.label_time.FromNanoseconds(now)
            fresh.append(copy)
        return self.deps.learner.apply(self.deps.reader.read(fresh))

    def status(self) -> learner_service_pb2.GetLearnerStatusResponse:
        return self.stub.GetLearnerStatus(learner_service_pb2.GetLearnerStatusRequest(), timeout=5)


@pytest.fixture
def learner(model_bundle: Path, tmp_path: Path) -> Iterator[RunningLearner]:
    # An all-alert label stream: the margin guardrail promotes on it (the evidence rule waits
    # for audits); these tests are about how promotions and rollbacks reach scorers.
    settings = LearnerSettings(
        port=0,
        models=model_bundle,
        data_dir=tmp_path / "var",
        feedback_addr="",
        batch_size=BATCH,
        insecure_allow_anonymous=True,
        promotion_rule="margin",
    )
    deps = open_deps(settings, LearnerMetrics())
    service = build_server(settings, deps)
    service.start()
    service.set_serving(True)
    address = f"127.0.0.1:{service.port}"
    channel = grpc.insecure_channel(address)
    yield RunningLearner(
        deps, service, address, learner_service_pb2_grpc.LearnerServiceStub(channel)
    )
    channel.close()
    service.stop(0.5)


@dataclass
class RunningScorer:
    name: str
    deps: ScorerDeps
    service: GrpcService
    sync: SnapshotSync
    stub: scoring_service_pb2_grpc.ScoringServiceStub

    @property
    def version(self) -> int:
        model = self.deps.holder.current
        assert model is not None
        return model.snapshot_version


@pytest.fixture
def start_scorer(
    model_bundle: Path, learner: RunningLearner
) -> Iterator[Callable[[str], RunningScorer]]:
    """`start_scorer(name)`: a real in-process scorer syncing with the test's learner."""
    running: list[tuple[RunningScorer, grpc.Channel]] = []

    def start(name: str) -> RunningScorer:
        deps = ScorerDeps(holder=ModelHolder(load_serving_model(model_bundle)))
        service = build_scorer(
            ScorerSettings(port=0, learner_addr="", insecure_allow_anonymous=True), deps
        )
        service.start()
        sync = SnapshotSync(learner.address, name, deps.holder, deps.metrics, 0.05, 0.2)
        sync.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{service.port}")
        scorer = RunningScorer(
            name, deps, service, sync, scoring_service_pb2_grpc.ScoringServiceStub(channel)
        )
        running.append((scorer, channel))
        return scorer

    yield start
    for scorer, channel in running:
        scorer.sync.stop()
        channel.close()
        scorer.service.stop(0)


def connected(learner: RunningLearner, *names: str) -> bool:
    return sorted(s.scorer_id for s in learner.status().scorers) == sorted(names)


@pytest.fixture(scope="module")
def sample_transactions() -> list[Transaction]:
    records = json.loads((TESTDATA / "scorer_transactions.json").read_text())
    return [json_format.ParseDict(record, Transaction()) for record in records]


def stream_batches(scorer, sample, stop: threading.Event, results: list, errors: list) -> None:
    def requests():
        batch_id = 0
        while not stop.is_set():
            batch = []
            for i in range(64):
                tx = Transaction()
                tx.CopyFrom(sample[i % len(sample)])
                tx.event_id = f"{batch_id}-{i}"
                batch.append(tx)
            yield scoring_service_pb2.StreamScoresRequest(
                batch_id=str(batch_id), transactions=batch
            )
            batch_id += 1
            time.sleep(0.005)

    try:
        for response in scorer.stub.StreamScores(requests(), timeout=60):
            results.append(response)
    except grpc.RpcError as exc:
        errors.append(exc)
