"""Shadow scoring: the challenger's risks are recorded beside the served ones and decide nothing."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

import numpy as np
import pytest

from fraudstream.model.snapshot import (
    SnapshotRejected,
    linear_from_snapshot,
    seal,
    thresholds_from_snapshot,
)
from fraudstream.scorer.engine import ScoringEngine
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.serving_model import ModelHolder, ServingModel, load_serving_model
from fraudstream.scorer.sync import SnapshotSync
from fraudstream.scorer.wire import encode_scores
from fraudstream.v1 import learner_service_pb2, model_pb2, score_pb2, scoring_service_pb2
from fraudstream.v1.transaction_pb2 import Transaction

from .conftest import shifted_snapshot

logger = logging.getLogger(__name__)

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


def _engine(model: ServingModel, challenger: model_pb2.ModelSnapshot | None = None):
    holder = ModelHolder(model)
    if challenger is not None:
        holder.apply_challenger(challenger)
    return ScoringEngine(holder, ScorerMetrics(), 4096)


def _shift_past_review(model: ServingModel, batch: list[Transaction]) -> float:
    """An intercept shift that takes the riskiest allowed row of `batch` past REVIEW: how far
    that is depends on the bundle (its classifier can be confident to 1e-80)."""
    served = _engine(model).score(batch).scores
    assert served is not None
    review = model.ensemble.thresholds.review
    riskiest = float(served.risk[served.risk < review].max())
    assert riskiest > 0.0
    return math.log(review / (1.0 - review)) - math.log(riskiest / (1.0 - riskiest)) + 1.0


def test_shadow_scores_equal_scoring_with_the_challenger_alone(served, batch_in):
    snapshot = challenger_snapshot(served, shift=max(SHIFT, _shift_past_review(served, batch_in)))
    batch = _engine(served, snapshot).score(batch_in)
    alone_model = replace(
        served,
        ensemble=served.ensemble.with_classifier(
            linear_from_snapshot(snapshot), thresholds_from_snapshot(snapshot)
        ),
    )
    alone = _engine(alone_model).score(batch_in)
    assert batch.shadow is not None and alone.scores is not None
    assert batch.shadow.scored.all()
    assert np.array_equal(batch.shadow.risk, alone.scores.risk)  # bit for bit
    assert np.array_equal(batch.shadow.decision, alone.scores.decision)
    assert batch.shadow.model.model_version == f"{served.bundle_version}+c1.10"
    # The shift makes the challenger disagree somewhere, or the test would prove little.
    assert batch.scores is not None
    assert (batch.shadow.decision != batch.scores.decision).any()


def test_decisions_are_the_same_with_and_without_a_challenger(served, batch_in):
    """The served part of every Score is byte for byte the same; the challenger's fields are
    appended after it (fields 9, 10, 11), which pins their encoding."""
    without = _engine(served).score(batch_in)
    with_challenger = _engine(served, challenger_snapshot(served)).score(batch_in)
    assert without.shadow is None
    plain = encode_scores(without, include_features=True)
    shadowed = encode_scores(with_challenger, include_features=True)
    version = f"{served.bundle_version}+c1.10".encode()
    shadow = with_challenger.shadow
    assert shadow is not None
    for i, (a, b) in enumerate(zip(plain, shadowed, strict=True)):
        row = int(with_challenger.rows[i])
        if row < 0:
            assert a == b  # an item error carries no challenger score
            continue
        tail = (
            b"\x49"
            + np.float64(shadow.risk[row]).astype("<f8").tobytes()
            + bytes([0x50, int(shadow.decision[row])])
            + b"\x5a"
            + bytes([len(version)])
            + version
        )
        assert b == a + tail
        parsed = score_pb2.Score.FromString(b)
        assert parsed.challenger_risk == shadow.risk[row]
        assert parsed.challenger_decision == shadow.decision[row]
        assert parsed.challenger_version == version.decode()


def test_a_non_finite_challenger_risk_leaves_only_that_row_without_a_shadow_score(served, batch_in):
    engine = _engine(served, challenger_snapshot(served))
    challenger = engine.holder.challenger
    assert challenger is not None
    # Huge weights of opposite signs on the amount and the origin's balance, centred so
    # that rows with a balance well above e^10 get inf - inf (NaN), the others risk 1.
    linear = challenger.classifier
    coefficients, mean, scale = (
        np.zeros_like(linear.coefficients),
        linear.mean.copy(),
        linear.scale.copy(),
    )
    coefficients[:2] = 1e308, -1e308
    mean[:2], scale[:2] = 0.0, 1.0
    mean[1] = 10.0
    broken = replace(linear, coefficients=coefficients, mean=mean, scale=scale)
    engine.holder._challenger = replace(challenger, classifier=broken)
    batch = engine.score(batch_in)
    assert batch.shadow is not None
    assert 0 < batch.shadow.scored.sum() < batch.shadow.scored.size
    assert batch.scores is not None
    assert np.isfinite(batch.scores.risk).all()  # the served risks are untouched
    for data, row in zip(encode_scores(batch, False), batch.rows.tolist(), strict=True):
        score = score_pb2.Score.FromString(data)
        if row >= 0 and not batch.shadow.scored[row]:
            assert score.challenger_version == "" and score.challenger_decision == 0
            assert score.decision != 0


def test_metrics_per_model(served, batch_in):
    engine = _engine(served, challenger_snapshot(served))
    batch = engine.score(batch_in)
    m = engine.metrics
    assert batch.scores is not None and batch.shadow is not None

    def decisions(model: str, name: str) -> float:
        value = m.registry.get_sample_value(
            "scorer_model_decisions_total", {"model": model, "decision": name}
        )
        return value or 0.0

    for code, name in ((1, "allow"), (2, "review"), (3, "block")):
        assert decisions("champion", name) == (batch.scores.decision == code).sum()
        assert decisions("champion", name) == m.decisions.labels(name)._value.get()
        assert decisions("challenger", name) == (batch.shadow.decision == code).sum()
    for model, risk in (("champion", batch.scores.risk), ("challenger", batch.shadow.risk)):
        count = m.registry.get_sample_value("scorer_model_risk_count", {"model": model})
        below = m.registry.get_sample_value(
            "scorer_model_risk_bucket", {"model": model, "le": "0.5"}
        )
        total = m.registry.get_sample_value("scorer_model_risk_sum", {"model": model})
        assert count == risk.size
        assert below == (risk < 0.5).sum()
        assert total == pytest.approx(risk.sum())
    assert m.registry.get_sample_value("scorer_shadow_latency_seconds_count") == 1


def test_psi_gauge_follows_the_champion_risks(served, batch_in):
    from fraudstream.model.drift import RiskDriftMonitor

    metrics = ScorerMetrics()
    engine = ScoringEngine(ModelHolder(served), metrics, 4096, RiskDriftMonitor(window=200))
    assert math.isnan(metrics.registry.get_sample_value("scorer_risk_psi"))
    first = engine.score(batch_in)  # 240 valid rows: the first 200 are the reference
    engine.score(batch_in)
    same = metrics.registry.get_sample_value("scorer_risk_psi")
    assert same is not None and 0.0 <= same < 0.1
    # Only the transactions with a high risk from now on: the distribution moves.
    assert first.scores is not None
    risky = [
        t
        for t, row in zip(batch_in, first.rows.tolist(), strict=True)
        if row >= 0 and first.scores.risk[row] >= 0.5
    ]
    assert 0 < len(risky) < 120
    for _ in range(200 // len(risky) + 1):
        engine.score(risky)
    assert metrics.registry.get_sample_value("scorer_risk_psi") > 0.2


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
