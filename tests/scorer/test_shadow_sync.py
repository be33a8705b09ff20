"""Challengers on their way in: checked like snapshots, routed to the shadow by the sync and
never served, carried on StreamScores, signed when the scorer checks signatures; the shadow's
cost on throughput."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from fraudstream.model.snapshot import SnapshotRejected, seal
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.serving_model import ModelHolder
from fraudstream.scorer.sync import SnapshotSync
from fraudstream.v1 import learner_service_pb2, model_pb2, scoring_service_pb2

from .conftest import SHIFT, challenger_snapshot, shifted_snapshot

logger = logging.getLogger(__name__)


def test_a_challenger_is_checked_like_a_snapshot(served):
    holder = ModelHolder(served)
    not_a_challenger = shifted_snapshot(served, 1, SHIFT)
    with pytest.raises(SnapshotRejected, match="not a challenger"):
        holder.apply_challenger(not_a_challenger)
    tampered = challenger_snapshot(served)
    tampered.classifier.intercept += 1.0
    with pytest.raises(SnapshotRejected, match="checksum"):
        holder.apply_challenger(tampered)
    other_bundle = challenger_snapshot(served)
    other_bundle.bundle_version = "other"
    with pytest.raises(SnapshotRejected, match="bundle"):
        holder.apply_challenger(seal(other_bundle))
    held = holder.apply_challenger(challenger_snapshot(served, 1, 20))
    # The same challenger again (a reconnect): still held, no rejection.
    assert holder.apply_challenger(challenger_snapshot(served, 1, 20)) is held
    with pytest.raises(SnapshotRejected, match="not newer"):
        holder.apply_challenger(challenger_snapshot(served, 1, 20, shift=1.0))
    with pytest.raises(SnapshotRejected, match="not newer"):
        holder.apply_challenger(challenger_snapshot(served, 1, 19))
    assert holder.apply_challenger(challenger_snapshot(served, 1, 30)).label_position == 30
    assert holder.current is not None and holder.current.snapshot_version == 0


def test_a_challenger_promoted_since_is_no_longer_scored(served):
    holder = ModelHolder(served)
    holder.apply_challenger(challenger_snapshot(served, version=1))
    assert holder.challenger is not None
    holder.apply_snapshot(shifted_snapshot(served, 1, SHIFT))
    assert holder.challenger is None  # v1 is the champion now: nothing to compare
    holder.apply_challenger(challenger_snapshot(served, version=2, label_position=40))
    assert holder.challenger is not None and holder.challenger.snapshot_version == 2


def test_sync_routes_challengers_to_the_shadow_and_never_serves_them(served):
    holder = ModelHolder(served)
    metrics = ScorerMetrics()
    sync = SnapshotSync("127.0.0.1:1", "s-1", holder, metrics)
    snapshot = challenger_snapshot(served)
    [request] = sync._on_response(learner_service_pb2.SyncModelsResponse(challenger=snapshot))
    assert request.ack.applied and request.ack.role == model_pb2.SNAPSHOT_ROLE_CHALLENGER
    assert holder.challenger is not None and holder.current.snapshot_version == 0
    assert metrics.registry.get_sample_value("scorer_challenger_snapshot_version") == 1
    # The same challenger in the field of snapshots to serve is refused, not served.
    [request] = sync._on_response(learner_service_pb2.SyncModelsResponse(snapshot=snapshot))
    assert not request.ack.applied and "challenger" in request.ack.reason
    assert holder.current.snapshot_version == 0
    older = challenger_snapshot(served, label_position=5)
    [request] = sync._on_response(learner_service_pb2.SyncModelsResponse(challenger=older))
    assert not request.ack.applied and "not newer" in request.ack.reason
    assert (
        metrics.registry.get_sample_value(
            "scorer_challenger_snapshots_total", {"result": "rejected"}
        )
        == 1
    )


def test_stream_scores_carry_the_challenger(scorer, sample_transactions):
    model = scorer.deps.holder.current
    assert model is not None
    scorer.deps.holder.apply_challenger(challenger_snapshot(model))
    request = scoring_service_pb2.StreamScoresRequest(
        batch_id="b", transactions=sample_transactions
    )
    [response] = list(scorer.stub.StreamScores(iter([request]), timeout=30))
    assert [s.challenger_version for s in response.scores] == [
        f"{model.bundle_version}+c1.10"
    ] * len(sample_transactions)
    assert all(s.challenger_decision != 0 for s in response.scores)


def _throughput(scorer, requests, repeats: int) -> float:
    started = time.perf_counter()
    answered = 0
    for _ in range(repeats):
        for response in scorer.stub.StreamScores(iter(requests), timeout=120):
            answered += len(response.scores)
    return answered / (time.perf_counter() - started)


@pytest.mark.integration
def test_shadow_cost_on_stream_scores_throughput(scorer, batch_in):
    """StreamScores throughput without and with a challenger, alternating in the same run, and
    the shadow pass's share of the scoring time."""
    model = scorer.deps.holder.current
    assert model is not None
    transactions = batch_in[:-2] * 2  # 480 valid rows per batch
    requests = [
        scoring_service_pb2.StreamScoresRequest(batch_id=f"b{b}", transactions=transactions)
        for b in range(25)
    ]
    _throughput(scorer, requests, 2)  # warm up
    plain, shadowed = [], []
    for round_ in range(6):
        scorer.deps.holder._challenger = None
        plain.append(_throughput(scorer, requests, 1))
        scorer.deps.holder.apply_challenger(challenger_snapshot(model, 1, 10 + round_))
        shadowed.append(_throughput(scorer, requests, 1))
    registry = scorer.deps.metrics.registry
    shadow_share = registry.get_sample_value(
        "scorer_shadow_latency_seconds_sum"
    ) / registry.get_sample_value("scorer_batch_latency_seconds_sum")
    median_plain, median_shadowed = float(np.median(plain)), float(np.median(shadowed))
    logger.warning(
        "StreamScores (batches of %d): median %.0f tx/s without a challenger, %.0f tx/s with "
        "one (%.1f%% fewer); the shadow pass is %.2f%% of the engine's time over all batches "
        "(%.1f us per batch); rounds %s / %s",
        len(transactions),
        median_plain,
        median_shadowed,
        100 * (1 - median_shadowed / median_plain),
        100 * shadow_share,
        1e6
        * registry.get_sample_value("scorer_shadow_latency_seconds_sum")
        / registry.get_sample_value("scorer_shadow_latency_seconds_count"),
        [round(x) for x in plain],
        [round(x) for x in shadowed],
    )
    # One linear pass over inputs already computed: a small share of a batch's cost. The
    # throughput figures are logged, not asserted: on two shared cores the rounds of either
    # kind vary by 2x, far more than the shadow pass costs.
    assert shadow_share < 0.1


def test_a_scorer_that_checks_signatures_takes_only_signed_challengers(served, tmp_path):
    from fraudstream.model.signing import Signer, Verifier, make_signing_key

    private, public = make_signing_key(tmp_path)
    holder = ModelHolder(served, verifier=Verifier.from_files([public]))
    with pytest.raises(SnapshotRejected):
        holder.apply_challenger(challenger_snapshot(served))  # unsigned
    signed = challenger_snapshot(served)
    seal(signed, Signer.from_file(private))
    assert holder.apply_challenger(signed).snapshot_version == 1
    # The role is signed: the same snapshot re-labelled as a champion no longer verifies.
    relabelled = model_pb2.ModelSnapshot()
    relabelled.CopyFrom(signed)
    relabelled.role = model_pb2.SNAPSHOT_ROLE_CHAMPION
    with pytest.raises(SnapshotRejected, match="checksum"):
        holder.apply_snapshot(relabelled)
