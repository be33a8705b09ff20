"""Wilson score intervals on effective counts: hand values, weights, the bounds rules use."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fraudstream.learner.evidence import ALERT, AUDIT, LabeledSample
from fraudstream.learner.intervals import (
    paired_evidence,
    rate_intervals,
    weighted_rate_interval,
    wilson_bounds,
)
from fraudstream.learner.promotion import RollbackRule

from .test_evidence import outcome


# Hand values: centre (p + z^2/2n) / (1 + z^2/n), half-width z/(1 + z^2/n) *
# sqrt(p(1-p)/n + z^2/4n^2), z = 1.959964 at 95%.
@pytest.mark.parametrize(
    ("rate", "trials", "low", "high"),
    [
        (0.0, 10, 0.0, 0.2775),
        (1.0, 10, 0.7225, 1.0),
        (0.5, 10, 0.2366, 0.7634),
        (1.0, 100, 0.9630, 1.0),
        (0.9, 100, 0.8256, 0.9448),
    ],
)
def test_wilson_bounds_match_hand_values(
    rate: float, trials: float, low: float, high: float
) -> None:
    assert wilson_bounds(rate, trials, 0.95) == pytest.approx((low, high), abs=1e-4)


def test_wilson_bounds_widen_with_confidence_and_are_nan_without_trials() -> None:
    low95, high95 = wilson_bounds(0.3, 50, 0.95)
    low99, high99 = wilson_bounds(0.3, 50, 0.99)
    assert low99 < low95 < 0.3 < high95 < high99
    assert all(math.isnan(b) for b in wilson_bounds(0.5, 0, 0.95))


def test_equal_weights_give_the_unweighted_interval() -> None:
    success = np.array([True] * 9 + [False])
    interval = weighted_rate_interval(success, np.full(10, 7.0))
    assert interval.estimate == pytest.approx(0.9)
    assert (interval.low, interval.high) == pytest.approx(wilson_bounds(0.9, 10), abs=1e-12)


def test_a_heavy_audit_shrinks_the_effective_size() -> None:
    # 100 alerts of weight 1, all fraud, and one audited legit of weight 500: the share is
    # 100/600 and the sample is worth (600^2 / 250100) = 1.44 labels, so the interval is wide.
    success = np.array([True] * 100 + [False])
    weights = np.r_[np.ones(100), 500.0]
    interval = weighted_rate_interval(success, weights)
    assert interval.estimate == pytest.approx(100 / 600)
    assert (interval.low, interval.high) == pytest.approx(
        wilson_bounds(100 / 600, 600**2 / 250_100), abs=1e-12
    )
    assert interval.high - interval.low > 0.5


def test_a_champion_without_false_positives_has_a_lower_bound_below_one() -> None:
    # The bootstrap gave precision [1, 1] here; any false positive of a promoted model then
    # tripped the rollback whatever it gained in recall.
    outcomes = [outcome(True, ALERT, 0.9, 0.9) for _ in range(100)]
    outcomes += [outcome(False, AUDIT, 0.1, 0.1) for _ in range(60)]
    sample = LabeledSample.of(outcomes)
    evidence = paired_evidence(sample, resamples=100)
    assert evidence.champion_precision.estimate == 1.0
    assert evidence.champion_precision.low == pytest.approx(0.9630, abs=1e-4)
    flagged = sample.champion_risk >= sample.review
    precision, _ = rate_intervals(sample.fraud, flagged, sample.ipw)
    assert precision == evidence.champion_precision


def test_rollback_keeps_a_promoted_model_with_a_few_false_positives() -> None:
    # 98 of 100 alerts after the promotion are fraud (precision 0.98) against a previous
    # champion that had 100 of 100: its Wilson bound 0.963 is below 0.98, so it stays.
    before = [outcome(True, ALERT, 0.9, 0.9, time=1.0) for _ in range(100)]
    previous = paired_evidence(LabeledSample.of(before), resamples=50).champion_precision.low
    after = [outcome(i >= 2, ALERT, 0.9, 0.9, time=10.0 + i) for i in range(100)]
    judgement = RollbackRule().judge(LabeledSample.of(before + after), 10.0, previous)
    assert not judgement.rollback, judgement.reason
    # Ten false positives (0.90) are below it: rolled back.
    after = [outcome(i >= 10, ALERT, 0.9, 0.9, time=10.0 + i) for i in range(100)]
    assert RollbackRule().judge(LabeledSample.of(before + after), 10.0, previous).rollback
