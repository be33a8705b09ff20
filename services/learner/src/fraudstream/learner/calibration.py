"""Thresholds that keep the alert rate steady across a promotion, and what audits can measure."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from fraudstream.learner.intervals import PairedEvidence

logger = logging.getLogger(__name__)

# After a promotion the alert rate on recent traffic should stay within this fraction of
# the champion's (analyst capacity is sized to it).
ALERT_RATE_TOLERANCE = 0.10


@dataclass(frozen=True)
class Thresholds:
    """Risk thresholds: REVIEW at risk >= review, BLOCK at risk >= block."""

    review: float
    block: float


@dataclass(frozen=True)
class ThresholdChoice:
    """The thresholds a promoted challenger serves with, whether they were rate-matched, why."""

    thresholds: Thresholds
    matched: bool
    reason: str


def alert_rate(risks: np.ndarray, threshold: float, weights: np.ndarray | None = None) -> float:
    """Share of `risks` at or above `threshold` (0 for no traffic); with `weights` (each
    labeled event's 1/selection probability) the share of the traffic they stand for."""
    risks = np.asarray(risks, dtype=np.float64)
    if not risks.size:
        return 0.0
    if weights is None:
        return float(np.mean(risks >= threshold))
    weights = np.asarray(weights, dtype=np.float64)
    return float(np.sum(weights * (risks >= threshold)) / np.sum(weights))


def threshold_for_rate(risks: np.ndarray, rate: float, weights: np.ndarray | None = None) -> float:
    """The threshold at which `risks` are flagged at `rate` (quantile matching).

    With r_(1) >= r_(2) >= ... the sorted risks and k = round(rate * n), the threshold is
    r_(k): exactly k risks reach it unless risks tie at r_(k) (saturated risks of 1.0 do),
    in which case all the tied ones are flagged. k = 0 gives a threshold just above the
    largest risk, so nothing is flagged, except risks of exactly 1.0: a threshold never
    exceeds 1.

    With `weights` (1/selection probability of labeled events), k is the number of the
    largest risks whose weight share comes closest to `rate`: an audit case at rate 0.002
    moves the share by 500 events' worth, which bounds how finely a rate can be matched.
    """
    risks = np.asarray(risks, dtype=np.float64)
    if risks.size == 0:
        raise ValueError("no recent traffic to match an alert rate on")
    order = np.argsort(-risks, kind="mergesort")
    risks = risks[order]
    if weights is None:
        k = min(round(rate * risks.size), risks.size)
    else:
        share = np.cumsum(np.asarray(weights, dtype=np.float64)[order])
        share = np.r_[0.0, share / share[-1]]
        k = int(np.argmin(np.abs(share - rate)))
    if k == 0:
        return float(min(np.nextafter(risks[0], math.inf), 1.0))
    return float(risks[k - 1])


def matched_thresholds(
    champion_risks: np.ndarray,
    challenger_risks: np.ndarray,
    serving: Thresholds,
    weights: np.ndarray | None = None,
) -> Thresholds:
    """Challenger thresholds giving it the champion's REVIEW-or-BLOCK and BLOCK rates on the
    same recent traffic (the challenger's shadow risks on ALL recent events, labeled or
    not), or on a labeled sample weighted by `weights` (1/selection probability), which is
    unbiased for the whole traffic. The block threshold never falls below the review one."""
    rate = alert_rate(champion_risks, serving.review, weights)
    block_rate = alert_rate(champion_risks, serving.block, weights)
    review = threshold_for_rate(challenger_risks, rate, weights)
    block = threshold_for_rate(challenger_risks, block_rate, weights)
    return Thresholds(review=review, block=max(block, review))


def thresholds_after_promotion(
    evidence: PairedEvidence,
    champion_risks: np.ndarray,
    challenger_risks: np.ndarray,
    serving: Thresholds,
    weights: np.ndarray | None = None,
) -> ThresholdChoice:
    """Rate-matched thresholds, unless the labels show the champion was wrong.

    "Wrong" means the challenger's IPW recall at the serving thresholds is significantly
    higher (the lower bound of the paired recall difference is above 0): the champion was
    missing fraud the challenger catches, and matching its alert rate would throw that
    away. Then the challenger keeps the serving thresholds and the alert rate may rise.
    """
    if evidence.recall_difference.low > 0.0:
        return ThresholdChoice(
            serving,
            False,
            f"challenger recall higher by {evidence.recall_difference.estimate:+.4f} "
            f"(lower bound {evidence.recall_difference.low:+.4f}): the champion missed fraud, "
            "serving thresholds kept",
        )
    matched = matched_thresholds(champion_risks, challenger_risks, serving, weights)
    return ThresholdChoice(
        matched,
        True,
        f"alert rate {alert_rate(champion_risks, serving.review, weights):.5f} matched: review "
        f"{matched.review:.4f}, block {matched.block:.4f}",
    )


def alert_rate_stable(
    champion_rate: float, promoted_rate: float, tolerance: float = ALERT_RATE_TOLERANCE
) -> bool:
    """Whether the promoted model's alert rate is within +-tolerance (relative) of the
    champion's."""
    return abs(promoted_rate - champion_rate) <= tolerance * champion_rate


def recall_half_width(
    audit_rate: float,
    transactions: float,
    fraud_rate: float,
    recall: float,
    confidence: float = 0.95,
) -> float:
    """Normal-approximation half-width of the IPW recall interval after `transactions`.

    F = transactions * fraud_rate frauds; the champion alerts A ~ Poisson(R F) of them
    (all labeled) and misses M = (1 - R) F, seen only through K ~ Poisson(M a) audits,
    estimated as K / a. By the delta method on R = A / (A + K/a):
        Var(R^) = R (1 - R) (1 - R + R / a) / F,
    so the half-width z * sqrt(Var) shrinks like 1 / sqrt(a * days) once R / a dominates.
    For a = 1 it is the binomial R (1 - R) / F. It assumes K is not tiny (M a >= ~10);
    below that the interval is wider and lopsided, and a bootstrap that saw no audited
    fraud reports a falsely narrow one (see docs/learning.md).
    """
    if not 0.0 < audit_rate <= 1.0:
        raise ValueError(f"audit_rate {audit_rate} outside (0, 1]")
    frauds = transactions * fraud_rate
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    variance = recall * (1.0 - recall) * (1.0 - recall + recall / audit_rate) / frauds
    return z * math.sqrt(variance)
