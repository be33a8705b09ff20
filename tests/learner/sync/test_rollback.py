"""Rollbacks and challengers reach the synced scorers: rolled back as a new version, challengers
shadowed and never served."""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest

from fraudstream.scorer.serving_model import load_serving_model
from fraudstream.v1 import (
    learner_service_pb2,
    scoring_service_pb2,
)
from tests.waiting import wait_for

from .conftest import BATCH, connected


def test_a_rollback_reaches_two_scorers_within_a_second_as_a_new_version(
    learner, start_scorer, drift_stream, sample_transactions, model_bundle
):
    for batch in drift_stream.batches(BATCH)[:12]:
        learner.feed(batch)
    promoted = learner.deps.learner.status().champion_version
    assert promoted >= 1
    scorers = [start_scorer("scorer-a"), start_scorer("scorer-b")]
    wait_for(lambda: all(s.version == promoted for s in scorers))
    before = scorers[0].stub.Score(
        scoring_service_pb2.ScoreRequest(transactions=sample_transactions), timeout=5
    )

    started = time.monotonic()
    answer = learner.stub.Rollback(
        learner_service_pb2.RollbackRequest(to_version=0, reason="test: back to the bundle"),
        timeout=5,
    ).rollback
    wait_for(lambda: all(s.version == answer.version for s in scorers), timeout=5)
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
    wait_for(lambda: connected(learner, "scorer-shadow"))
    # One update: below any promotion, and a first challenger to publish.
    position = learner.feed(drift_stream.batches(BATCH)[0])
    assert learner.deps.learner.status().champion_version == 0
    wait_for(lambda: scorer.deps.holder.challenger is not None)
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
    wait_for(
        lambda: (
            registry.get_sample_value("learner_challenger_acks_total", {"result": "applied"}) == 1
        )
    )
    (seen,) = learner.status().scorers
    assert seen.applied_version == 0 and seen.last_rejection == ""
    # A scorer that connects later is sent the current challenger at hello.
    late = start_scorer("scorer-late-shadow")
    wait_for(lambda: late.deps.holder.challenger is not None)
    assert late.deps.holder.challenger.label_position == position
