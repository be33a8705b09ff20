"""Alert-rate-matched thresholds after a promotion, and recall interval width against audit_rate.

Run as a script (`python tests/learner/test_calibration.py`) to print the audit-rate table
of docs/learning.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.learner.calibration import (
    Thresholds,
    alert_rate,
    alert_rate_stable,
    matched_thresholds,
    recall_half_width,
    threshold_for_rate,
    thresholds_after_promotion,
)
from fraudstream.learner.intervals import Interval, PairedEvidence, model_intervals

SERVING = Thresholds(review=0.2, block=0.5)


def traffic(seed: int, n: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """(champion, challenger) risks on the same events; the challenger scores higher."""
    champion = np.random.default_rng(seed).beta(1.0, 20.0, size=n)
    return champion, np.sqrt(champion)


def test_threshold_for_rate_by_hand() -> None:
    risks = np.arange(1, 11) / 11.0
    assert threshold_for_rate(risks, 0.3) == pytest.approx(8 / 11)
    assert alert_rate(risks, threshold_for_rate(risks, 0.3)) == pytest.approx(0.3)
    assert alert_rate(risks, threshold_for_rate(risks, 0.0)) == 0.0
    assert threshold_for_rate(risks, 1.0) == pytest.approx(1 / 11)
    with pytest.raises(ValueError, match="no recent traffic"):
        threshold_for_rate(np.array([]), 0.1)


def test_tied_risks_are_flagged_together() -> None:
    risks = np.array([1.0, 1.0, 1.0, 0.5, 0.2])
    assert threshold_for_rate(risks, 0.2) == 1.0
    assert alert_rate(risks, 1.0) == pytest.approx(0.6)


def test_matched_thresholds_keep_the_alert_rate_on_later_traffic() -> None:
    recent_champion, recent_challenger = traffic(seed=1)
    later_champion, later_challenger = traffic(seed=2)
    champion_rate = alert_rate(later_champion, SERVING.review)
    # At the serving threshold the challenger would alert far more often ...
    assert not alert_rate_stable(champion_rate, alert_rate(later_challenger, SERVING.review))
    matched = matched_thresholds(recent_champion, recent_challenger, SERVING)
    # ... at thresholds matched on recent traffic it stays within +-10% on the next traffic.
    assert alert_rate_stable(champion_rate, alert_rate(later_challenger, matched.review))
    assert alert_rate_stable(
        alert_rate(later_champion, SERVING.block), alert_rate(later_challenger, matched.block)
    )
    # The challenger's risk is sqrt(the champion's): the matched thresholds are the sqrt too.
    assert matched.review == pytest.approx(np.sqrt(SERVING.review), abs=0.01)
    assert matched.block >= matched.review


def evidence(recall_low: float) -> PairedEvidence:
    same = Interval(0.5, 0.4, 0.6)
    return PairedEvidence(
        champion_precision=same,
        champion_recall=same,
        challenger_precision=same,
        challenger_recall=same,
        precision_difference=Interval(0.0, -0.01, 0.01),
        recall_difference=Interval(recall_low + 0.02, recall_low, recall_low + 0.04),
        labels=1000,
        frauds=100,
        audits=500,
        effective_size=80.0,
    )


def test_thresholds_are_matched_unless_the_champion_missed_fraud() -> None:
    champion, challenger = traffic(seed=3)
    choice = thresholds_after_promotion(evidence(-0.01), champion, challenger, SERVING)
    assert choice.matched and choice.thresholds != SERVING
    assert "matched" in choice.reason
    kept = thresholds_after_promotion(evidence(0.01), champion, challenger, SERVING)
    assert not kept.matched and kept.thresholds == SERVING
    assert "champion missed fraud" in kept.reason


def test_alert_rate_stable() -> None:
    assert alert_rate_stable(0.01, 0.0109)
    assert not alert_rate_stable(0.01, 0.0111)
    assert not alert_rate_stable(0.01, 0.0089)


def simulated_recall_half_width(
    seed: int, audit_rate: float, transactions: int, fraud_rate: float, recall: float
) -> tuple[float, int]:
    """Bootstrap recall half-width after one simulated day, and the audited frauds it saw.

    The champion alerts each fraud with probability `recall`; every alert is labeled, every
    non-alert with probability `audit_rate`. Legit labels add zero to both totals recall is
    made of, so they are left out of the simulation (they change nothing in the interval).
    """
    rng = np.random.default_rng(seed)
    frauds = rng.binomial(transactions, fraud_rate)
    alerted = rng.binomial(frauds, recall)
    audited = rng.binomial(frauds - alerted, audit_rate)
    fraud = np.ones(alerted + audited, dtype=bool)
    flagged = np.r_[np.ones(alerted, dtype=bool), np.zeros(audited, dtype=bool)]
    ipw = np.r_[np.ones(alerted), np.full(audited, 1.0 / audit_rate)]
    _, interval = model_intervals(fraud, flagged, ipw, resamples=200, seed=seed)
    return interval.half_width, audited


def test_recall_interval_narrows_with_the_audit_rate() -> None:
    widths = [recall_half_width(rate, 1e6, 0.001, 0.8) for rate in (0.001, 0.002, 0.005, 0.01)]
    assert widths == sorted(widths, reverse=True)
    # Once recall / audit_rate dominates, four times the audits halve the width.
    assert recall_half_width(0.0025, 1e6, 0.01, 0.8) / recall_half_width(
        0.01, 1e6, 0.01, 0.8
    ) == pytest.approx(2.0, rel=0.01)
    assert recall_half_width(1.0, 1e4, 0.1, 0.8) == pytest.approx(
        1.96 * np.sqrt(0.16 / 1e3), rel=1e-4
    )


def test_bootstrap_width_agrees_with_the_formula_when_audits_see_fraud() -> None:
    # 10,000 frauds a day, 2,000 missed, ~20 of those audited at 1%.
    for rate in (0.01, 0.04):
        simulated = np.median(
            [simulated_recall_half_width(seed, rate, 1_000_000, 0.01, 0.8)[0] for seed in range(3)]
        )
        assert simulated == pytest.approx(recall_half_width(rate, 1e6, 0.01, 0.8), rel=0.25)


def audit_table(days: int = 40) -> list[str]:
    """The docs/learning.md table: 1M transactions a day, 0.1% fraud, champion recall 0.8."""
    rows = [
        "| audit_rate | audited frauds/day | half-width (formula) | half-width (bootstrap, "
        "median) | days with no audited fraud | days to +-0.05 |",
        "|---|---|---|---|---|---|",
    ]
    for rate in (0.001, 0.002, 0.005, 0.01):
        formula = recall_half_width(rate, 1e6, 0.001, 0.8)
        simulated = [
            simulated_recall_half_width(s, rate, 1_000_000, 0.001, 0.8) for s in range(days)
        ]
        blind = sum(audited == 0 for _, audited in simulated) / days
        rows.append(
            f"| {rate} | {200 * rate:.1f} | {formula:.3f} | "
            f"{np.median([w for w, _ in simulated]):.3f} | {blind:.0%} | "
            f"{(formula / 0.05) ** 2:.0f} |"
        )
    return rows


if __name__ == "__main__":
    print("\n".join(audit_table()))


def labeled_traffic(seed: int, n: int, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """(champion, challenger) risks where the challenger also ranks differently (noise)."""
    rng = np.random.default_rng(seed)
    champion = rng.beta(1.0, 20.0, size=n)
    return champion, np.clip(np.sqrt(champion) + rng.normal(0.0, noise, n), 0.0, 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_thresholds_matched_on_the_weighted_labels_keep_the_alert_rate_of_the_traffic(seed):
    """The learner sees only labels: every alert (weight 1) and audits of the rest (weight
    1/audit_rate). Matched on them, the challenger's alert rate on the next day's whole
    traffic stays within +-10% of the champion's (1M events a day, audit rate 0.05; see
    docs/learning.md for how the error grows at lower rates)."""
    n, audit_rate = 1_000_000, 0.05
    champion, challenger = labeled_traffic(seed, n)
    rng = np.random.default_rng(100 + seed)
    alerted = champion >= SERVING.review
    labeled = alerted | (rng.random(n) < audit_rate)
    weights = np.where(alerted[labeled], 1.0, 1.0 / audit_rate)
    # Weighted, the labeled sample's alert rate is the traffic's (alerts are all labeled).
    assert alert_rate(champion[labeled], SERVING.review, weights) == pytest.approx(
        alert_rate(champion, SERVING.review), rel=0.05
    )
    matched = matched_thresholds(champion[labeled], challenger[labeled], SERVING, weights)
    later_champion, later_challenger = labeled_traffic(1000 + seed, n)
    assert alert_rate_stable(
        alert_rate(later_champion, SERVING.review), alert_rate(later_challenger, matched.review)
    )
