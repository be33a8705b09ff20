"""The learner over gRPC with real scorers: SyncModels pushes, hot swaps, GetLearnerStatus.

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
import numpy as np
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

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
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


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def _connected(learner: RunningLearner, *names: str) -> bool:
    return sorted(s.scorer_id for s in learner.status().scorers) == sorted(names)


@pytest.fixture(scope="module")
def sample_transactions() -> list[Transaction]:
    records = json.loads((TESTDATA / "scorer_transactions.json").read_text())
    return [json_format.ParseDict(record, Transaction()) for record in records]


def _stream_batches(scorer, sample, stop: threading.Event, results: list, errors: list) -> None:
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


def test_a_scorer_behind_gets_the_current_snapshot_at_hello(
    learner, start_scorer, drift_stream, sample_transactions
):
    for batch in drift_stream.batches(BATCH)[:12]:
        learner.feed(batch)
    version = learner.deps.learner.status().champion_version
    assert version >= 1, "the labels should have promoted a challenger"

    scorer = start_scorer("scorer-late")
    _wait_for(lambda: scorer.version == version)
    _wait_for(lambda: _connected(learner, "scorer-late"))
    (seen,) = learner.status().scorers
    assert seen.applied_version == version
    assert seen.last_rejection == ""
    served = scorer.stub.Score(
        scoring_service_pb2.ScoreRequest(transactions=sample_transactions[:1]),
        timeout=5,
    )
    assert served.scores[0].model_version.endswith(f"+s{version}")


def test_promotions_reach_two_scorers_that_switch_without_a_failed_request(
    learner, start_scorer, drift_stream, sample_transactions
):
    scorers = [start_scorer("scorer-a"), start_scorer("scorer-b")]
    _wait_for(lambda: _connected(learner, "scorer-a", "scorer-b"))
    stop = threading.Event()
    results: dict[str, list] = {s.name: [] for s in scorers}
    errors: list = []
    clients = [
        threading.Thread(
            target=_stream_batches,
            args=(s, sample_transactions, stop, results[s.name], errors),
        )
        for s in scorers
    ]
    for client in clients:
        client.start()
    _wait_for(lambda: all(len(r) >= 10 for r in results.values()))

    for batch in drift_stream.batches(BATCH):
        learner.feed(batch)
        time.sleep(0.02)  # labels trickle in while the scorers serve
    final = learner.deps.learner.status().champion_version
    assert final >= 3
    _wait_for(lambda: all(s.version == final for s in scorers))
    count = len(results["scorer-a"])
    _wait_for(lambda: len(results["scorer-a"]) > count + 5)
    stop.set()
    for client in clients:
        client.join(timeout=30)

    assert errors == []
    for name, responses in results.items():
        versions = [int(r.scores[0].model_version.rsplit("+s", 1)[1]) for r in responses]
        assert versions == sorted(versions), f"{name} went back to an older model"
        assert versions[0] == 0 and versions[-1] == final
        for response in responses:
            assert len({s.model_version for s in response.scores}) == 1, "one model per batch"
            assert not any(s.HasField("error") for s in response.scores)

    status = learner.status()
    assert status.champion_version == final
    assert {(s.scorer_id, s.applied_version) for s in status.scorers} == {
        ("scorer-a", final),
        ("scorer-b", final),
    }
    assert status.promotions == final
    assert status.labels_seen == len(drift_stream.examples)
    metrics = learner.deps.metrics.registry
    assert metrics.get_sample_value("learner_connected_scorers") == 2
    assert (
        metrics.get_sample_value("learner_snapshot_acks_total", {"result": "applied"})
        >= 2 * final - 2
    )
    latencies = np.asarray(learner.deps.registry.latencies)
    assert len(latencies) == final, "one label-to-served latency per snapshot"
    p50, p99 = np.percentile(latencies, [50, 99])
    print(
        f"label-to-served over {len(latencies)} snapshots: "
        f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
    )
    assert p99 < 1.0


def test_a_scorer_on_another_bundle_is_sent_nothing_and_shown_why(learner, drift_stream):
    for batch in drift_stream.batches(BATCH)[:12]:
        learner.feed(batch)
    assert learner.deps.learner.status().champion_version >= 1
    hello = learner_service_pb2.SyncModelsRequest(
        hello=learner_service_pb2.SyncHello(
            scorer_id="old-scorer",
            snapshot_version=0,
            bundle_version="20200101T000000Z-000000000000",
            feature_schema_hash=learner.deps.learner.baseline.feature_schema_hash,
        )
    )
    release = threading.Event()

    def requests():
        yield hello
        release.wait(10)

    call = learner.stub.SyncModels(requests())
    _wait_for(lambda: _connected(learner, "old-scorer"))
    (seen,) = learner.status().scorers
    assert "bundle" in seen.last_rejection
    assert seen.applied_version == 0
    release.set()
    assert list(call) == [], "nothing may be pushed to a scorer of another bundle"


def test_sync_models_must_start_with_hello(learner):
    ack = learner_service_pb2.SyncModelsRequest(ack=learner_service_pb2.SnapshotAck(version=1))
    with pytest.raises(grpc.RpcError) as error:
        list(learner.stub.SyncModels(iter([ack]), timeout=5))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "hello" in error.value.details()


def test_an_idle_scorer_shows_connected_at_once_and_disconnected_when_the_learner_goes(
    learner, start_scorer
):
    # Nothing to push (no labels): the gauge must not wait for a first snapshot.
    started = time.monotonic()
    scorer = start_scorer("scorer-idle")
    gauge = scorer.deps.metrics.registry
    _wait_for(lambda: gauge.get_sample_value("scorer_learner_connected") == 1, timeout=2)
    assert time.monotonic() - started < 2
    assert scorer.sync._stream.connected.is_set()
    learner.service.stop(0)
    _wait_for(lambda: gauge.get_sample_value("scorer_learner_connected") == 0, timeout=5)


def test_a_rollback_reaches_two_scorers_within_a_second_as_a_new_version(
    learner, start_scorer, drift_stream, sample_transactions, model_bundle
):
    for batch in drift_stream.batches(BATCH)[:12]:
        learner.feed(batch)
    promoted = learner.deps.learner.status().champion_version
    assert promoted >= 1
    scorers = [start_scorer("scorer-a"), start_scorer("scorer-b")]
    _wait_for(lambda: all(s.version == promoted for s in scorers))
    before = scorers[0].stub.Score(
        scoring_service_pb2.ScoreRequest(transactions=sample_transactions), timeout=5
    )

    started = time.monotonic()
    answer = learner.stub.Rollback(
        learner_service_pb2.RollbackRequest(to_version=0, reason="test: back to the bundle"),
        timeout=5,
    ).rollback
    _wait_for(lambda: all(s.version == answer.version for s in scorers), timeout=5)
    elapsed = time.monotonic() - started
    print(f"rollback to 2 scorers in {elapsed * 1000:.1f} ms")
    assert elapsed <= 1.0

    # A NEW version (scorers accept only newer ones) whose content is the bundle's model.
    assert (answer.version, answer.rolled_back_from, answer.restored_version) == (
        promoted + 1,
        promoted,
        0,
    )
    assert not answer.automatic and answer.reason == "test: back to the bundle"
    bundle = load_serving_model(model_bundle)
    for scorer in scorers:
        served = scorer.deps.holder.current
        assert served is not None and served.ensemble.classifier is not None
        assert np.array_equal(
            served.ensemble.classifier.coefficients, bundle.ensemble.classifier.coefficients
        )
        assert served.ensemble.thresholds == bundle.ensemble.thresholds
    after = scorers[1].stub.Score(
        scoring_service_pb2.ScoreRequest(transactions=sample_transactions), timeout=5
    )
    assert [s.model_version.rsplit("+s", 1)[1] for s in after.scores] == [
        str(answer.version)
    ] * len(sample_transactions)
    assert len(before.scores) == len(after.scores)

    status = learner.status()
    assert (status.champion_version, status.rollbacks) == (answer.version, 1)
    assert status.last_rollback == answer
    metrics = learner.deps.metrics.registry
    assert metrics.get_sample_value("learner_rollbacks_total", {"reason": "operator"}) == 1
    # The learner timed it too: published to applied by both scorers, within a second.
    fleet = "learner_snapshot_to_fleet_seconds"
    assert metrics.get_sample_value(f"{fleet}_count", {"kind": "rollback"}) == 1
    assert metrics.get_sample_value(f"{fleet}_bucket", {"kind": "rollback", "le": "1.0"}) == 1

    # Rolling back to what serves now, or to a version never promoted, is refused.
    for to_version in (answer.version, answer.version + 5):
        with pytest.raises(grpc.RpcError) as refused:
            learner.stub.Rollback(
                learner_service_pb2.RollbackRequest(to_version=to_version), timeout=5
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_challengers_reach_the_scorers_shadow_and_are_never_served(
    learner, start_scorer, drift_stream, sample_transactions
):
    scorer = start_scorer("scorer-shadow")
    _wait_for(lambda: _connected(learner, "scorer-shadow"))
    # One update: below any promotion, and a first challenger to publish.
    position = learner.feed(drift_stream.batches(BATCH)[0])
    assert learner.deps.learner.status().champion_version == 0
    _wait_for(lambda: scorer.deps.holder.challenger is not None)
    challenger = scorer.deps.holder.challenger
    assert challenger is not None
    assert (challenger.snapshot_version, challenger.label_position) == (1, position)
    assert scorer.version == 0  # still serving the bundle: a challenger is never applied
    served = scorer.stub.Score(
        scoring_service_pb2.ScoreRequest(transactions=sample_transactions), timeout=5
    )
    for score in served.scores:
        assert score.model_version.endswith("+s0")
        assert score.challenger_version == challenger.model_version
        assert score.challenger_decision != 0
    registry = learner.deps.metrics.registry
    _wait_for(
        lambda: (
            registry.get_sample_value("learner_challenger_acks_total", {"result": "applied"}) == 1
        )
    )
    (seen,) = learner.status().scorers
    assert seen.applied_version == 0 and seen.last_rejection == ""
    # A scorer that connects later is sent the current challenger at hello.
    late = start_scorer("scorer-late-shadow")
    _wait_for(lambda: late.deps.holder.challenger is not None)
    assert late.deps.holder.challenger.label_position == position
