"""ScoreMap: where it centres, and why the max of two detectors needs legitimate-traffic centres."""

from __future__ import annotations

import numpy as np

from fraudstream.model.detectors import CALIBRATION_QUANTILE, ScoreMap

LEGIT_ROWS = 100_000
FRAUD_ROWS = 750  # 0.75% of training rows, as in the accounts experiment's simulated data
FPR = 0.001


def test_the_calibration_quantile_maps_to_one_half_and_the_median_near_its_complement() -> None:
    raw = np.random.default_rng(1).gamma(2.0, 3.0, 50_000)
    score_map = ScoreMap.fit(raw)
    median, high = np.quantile(raw, [0.5, CALIBRATION_QUANTILE])
    assert score_map(np.array([high]))[0] == 0.5
    assert abs(score_map(np.array([median]))[0] - (1.0 - CALIBRATION_QUANTILE)) < 1e-9


def _recall_of_the_max(upper: float) -> float:
    """Two detectors fitted on unlabeled rows with frauds among them: the first sees the frauds
    (they stand far out on it), the second does not (they look legitimate to it). Recall of the
    max of their mapped scores at FPR 0.1%, the threshold set on legitimate rows."""
    rng = np.random.default_rng(7)
    legit = rng.normal(0.0, 1.0, (LEGIT_ROWS, 2))
    fraud = np.column_stack([rng.normal(5.0, 0.5, FRAUD_ROWS), rng.normal(0.0, 1.0, FRAUD_ROWS)])
    training = np.vstack([legit, fraud])
    maps = [ScoreMap.fit(training[:, d], upper) for d in (0, 1)]
    measured_legit = rng.normal(0.0, 1.0, (LEGIT_ROWS, 2))
    legit_risk = np.maximum(maps[0](measured_legit[:, 0]), maps[1](measured_legit[:, 1]))
    fraud_risk = np.maximum(maps[0](fraud[:, 0]), maps[1](fraud[:, 1]))
    threshold = np.quantile(legit_risk, 1.0 - FPR)
    return float(np.mean(fraud_risk > threshold))


def test_each_detector_keeps_its_share_of_the_budget_when_frauds_are_in_training() -> None:
    # Centred on legitimate traffic, the detector that sees the frauds catches them in the max.
    assert _recall_of_the_max(CALIBRATION_QUANTILE) > 0.95
    # Centred inside the fraud tail (0.999 with 0.75% fraud), the blind detector's top
    # legitimate rows outrank the frauds: the calibration this quantile replaced.
    assert _recall_of_the_max(0.999) < 0.5
