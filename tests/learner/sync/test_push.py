"""SyncModels pushes snapshots to real scorers, which hot-swap them; GetLearnerStatus shows them."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest

from fraudstream.v1 import (
    learner_service_pb2,
    scoring_service_pb2,
)
from tests.waiting import wait_for

from .conftest import BATCH, connected, stream_batches


def test_a_scorer_behind_gets_the_current_snapshot_at_hello(
    learner, start_scorer, drift_stream, sample_transactions
):
    for batch in drift_stream.batches(BATCH)[:12]:
        learner.feed(batch)
    version = learner.deps.learner.status().champion_version
    assert version >= 1, "the labels should have promoted a challenger"

    scorer = start_scorer("scorer-late")
    wait_for(lambda: scorer.version == version)
    wait_for(lambda: connected(learner, "scorer-late"))
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
    wait_for(lambda: connected(learner, "scorer-a", "scorer-b"))
    stop = threading.Event()
    results: dict[str, list] = {s.name: [] for s in scorers}
    errors: list = []
    clients = [
        threading.Thread(
            target=stream_batches,
            args=(s, sample_transactions, stop, results[s.name], errors),
        )
        for s in scorers
    ]
    for client in clients:
        client.start()
    wait_for(lambda: all(len(r) >= 10 for r in results.values()))

    for batch in drift_stream.batches(BATCH):
        learner.feed(batch)
        time.sleep(0.02)  # labels trickle in while the scorers serve
    final = learner.deps.learner.status().champion_version
    assert final >= 3
    wait_for(lambda: all(s.version == final for s in scorers))
    count = len(results["scorer-a"])
    wait_for(lambda: len(results["scorer-a"]) > count + 5)
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
    wait_for(lambda: connected(learner, "old-scorer"))
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
    wait_for(lambda: gauge.get_sample_value("scorer_learner_connected") == 1, timeout=2)
    assert time.monotonic() - started < 2
    assert scorer.sync._stream.connected.is_set()
    learner.service.stop(0)
    wait_for(lambda: gauge.get_sample_value("scorer_learner_connected") == 0, timeout=5)
