"""Snapshots over SyncModels: applied atomically mid-stream, and refused when unsafe.

The learner side here is a small scripted LearnerService on a real gRPC server; the scorer
side is the real SnapshotSync client and the real in-process scorer.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from fraudstream.common.grpc_server import build_grpc_service
from fraudstream.model.snapshot import seal
from fraudstream.scorer.sync import SnapshotSync
from fraudstream.v1 import (
    learner_service_pb2,
    learner_service_pb2_grpc,
    model_pb2,
    scoring_service_pb2,
)
from fraudstream.v1.transaction_pb2 import Transaction


class ScriptedLearner(learner_service_pb2_grpc.LearnerServiceServicer):
    """Pushes the snapshots put in `outbox` and records hellos and acks."""

    def __init__(self) -> None:
        self.outbox: queue.Queue[model_pb2.ModelSnapshot] = queue.Queue()
        self.hellos: list[learner_service_pb2.SyncHello] = []
        self.acks: queue.Queue[learner_service_pb2.SnapshotAck] = queue.Queue()

    def SyncModels(
        self, request_iterator, context
    ) -> Iterator[learner_service_pb2.SyncModelsResponse]:
        self.hellos.append(next(request_iterator).hello)

        def read_acks() -> None:
            try:
                for request in request_iterator:
                    self.acks.put(request.ack)
            except grpc.RpcError:
                pass  # the scorer went away; the stream is over

        threading.Thread(target=read_acks, daemon=True).start()
        while context.is_active():
            try:
                snapshot = self.outbox.get(timeout=0.05)
            except queue.Empty:
                continue
            yield learner_service_pb2.SyncModelsResponse(snapshot=snapshot)


@pytest.fixture
def learner():
    scripted = ScriptedLearner()
    service = build_grpc_service(
        host="127.0.0.1",
        port=0,
        max_workers=4,
        service_names=["fraudstream.v1.LearnerService"],
        register=lambda s: learner_service_pb2_grpc.add_LearnerServiceServicer_to_server(
            scripted, s
        ),
    )
    service.start()
    yield scripted, f"127.0.0.1:{service.port}"
    service.stop(0)


@pytest.fixture
def synced(scorer, learner):
    scripted, address = learner
    sync = SnapshotSync(address, "scorer-a", scorer.deps.holder, scorer.deps.metrics, 0.05, 0.2)
    sync.start()
    deadline = time.monotonic() + 10
    while not scripted.hellos and time.monotonic() < deadline:
        time.sleep(0.02)
    assert scripted.hellos, "the scorer never said hello to the learner"
    yield scripted
    sync.stop()


def _stream_batches(scorer, sample, n_batches: int, results: list, errors: list) -> None:
    def requests():
        for b in range(n_batches):
            batch = []
            for i in range(64):
                tx = Transaction()
                tx.CopyFrom(sample[i % len(sample)])
                tx.event_id = f"{b}-{i}"
                batch.append(tx)
            yield scoring_service_pb2.StreamScoresRequest(batch_id=str(b), transactions=batch)
            time.sleep(0.005)

    try:
        for response in scorer.stub.StreamScores(requests(), timeout=60):
            results.append(response)
    except grpc.RpcError as exc:
        errors.append(exc)


def test_hello_carries_the_served_version(synced, scorer):
    hello = synced.hellos[0]
    assert hello.scorer_id == "scorer-a"
    assert hello.snapshot_version == 0
    assert hello.bundle_version == scorer.deps.holder.current.bundle_version
    assert hello.feature_schema_hash == scorer.deps.holder.current.ensemble.feature_schema_hash


def test_swap_mid_stream_fails_no_request(synced, scorer, sample_transactions, make_snapshot):
    results: list = []
    errors: list = []
    client = threading.Thread(
        target=_stream_batches, args=(scorer, sample_transactions, 150, results, errors)
    )
    client.start()
    base = scorer.deps.holder.current
    while len(results) < 30:
        time.sleep(0.01)
    synced.outbox.put(make_snapshot(base, 1, intercept_shift=1.5))
    assert synced.acks.get(timeout=10) == learner_service_pb2.SnapshotAck(version=1, applied=True)
    while len(results) < 80:
        time.sleep(0.01)
    synced.outbox.put(make_snapshot(base, 2, intercept_shift=3.0))
    assert synced.acks.get(timeout=10).applied
    client.join(timeout=60)

    assert errors == []
    assert len(results) == 150
    versions = [r.scores[0].model_version.rsplit("+s", 1)[1] for r in results]
    assert versions == sorted(versions), "a batch must never go back to an older model"
    assert {"0", "1", "2"} <= set(versions)
    for response in results:
        assert len({s.model_version for s in response.scores}) == 1, "one model per batch"
        assert not any(s.HasField("error") for s in response.scores)
    assert scorer.deps.metrics.registry.get_sample_value("scorer_snapshots_applied_total") == 2
    assert scorer.deps.metrics.registry.get_sample_value("scorer_model_snapshot_version") == 2


def _damaged(snapshot: model_pb2.ModelSnapshot, damage: str) -> model_pb2.ModelSnapshot:
    bad = model_pb2.ModelSnapshot()
    bad.CopyFrom(snapshot)
    if damage == "checksum":
        bad.classifier.intercept += 1.0  # content changed after sealing
        return bad
    if damage == "schema":
        bad.feature_schema_hash = "0" * 64
    elif damage == "dimensions":
        del bad.classifier.coefficients[-1]
    elif damage == "non-finite":
        bad.classifier.coefficients[0] = math.nan
    elif damage == "scale":
        bad.scaler.scale[0] = 0.0
    elif damage == "older":
        bad.version = 0
    elif damage == "bundle":
        bad.bundle_version = "some-other-bundle"
    return seal(bad)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("checksum", "checksum"),
        ("schema", "feature schema"),
        ("dimensions", "wrong dimensions"),
        ("non-finite", "non-finite"),
        ("scale", "scale must be positive"),
        ("older", "not newer"),
        ("bundle", "built on bundle"),
    ],
)
def test_bad_snapshots_are_rejected_and_the_model_keeps_serving(
    synced, scorer, sample_transactions, make_snapshot, damage, reason
):
    before = scorer.deps.holder.current
    request = scoring_service_pb2.ScoreRequest(transactions=sample_transactions)
    risks_before = [s.risk for s in scorer.stub.Score(request, timeout=10).scores]

    synced.outbox.put(_damaged(make_snapshot(before, 1, intercept_shift=2.0), damage))
    ack = synced.acks.get(timeout=10)
    assert not ack.applied
    assert reason in ack.reason

    assert scorer.deps.holder.current is before
    after = scorer.stub.Score(request, timeout=10).scores
    assert [s.risk for s in after] == risks_before
    assert all(s.model_version.endswith("+s0") for s in after)
    assert scorer.deps.metrics.registry.get_sample_value("scorer_snapshots_rejected_total") == 1
