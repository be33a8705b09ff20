"""Shadow scoring: the challenger's risks are recorded beside the served ones and decide nothing."""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np
import pytest

from fraudstream.model.snapshot import (
    linear_from_snapshot,
    thresholds_from_snapshot,
)
from fraudstream.scorer.engine import ScoringEngine
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.serving_model import ModelHolder, ServingModel
from fraudstream.scorer.wire import encode_scores
from fraudstream.v1 import model_pb2, score_pb2
from fraudstream.v1.transaction_pb2 import Transaction

from .conftest import SHIFT, challenger_snapshot

logger = logging.getLogger(__name__)


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
