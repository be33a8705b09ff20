"""Intervals of IPW precision and recall: Wilson score intervals on the effective number of
labels for one model's rates, a paired Poisson bootstrap for champion-challenger differences."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from fraudstream.learner.evidence import LabeledSample, ipw_rates, kish_effective_size

logger = logging.getLogger(__name__)

# Resamples are drawn in blocks of this many so memory stays ~ block x labels floats.
_BLOCK = 100


@dataclass(frozen=True)
class Interval:
    """A point estimate and its two-sided interval (Wilson score or percentile bootstrap)."""

    estimate: float
    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0


@dataclass(frozen=True)
class PairedEvidence:
    """Champion and challenger measured on the same labels, and the paired differences
    (challenger - champion)."""

    champion_precision: Interval
    champion_recall: Interval
    challenger_precision: Interval
    challenger_recall: Interval
    precision_difference: Interval
    recall_difference: Interval
    labels: int
    frauds: int
    audits: int
    effective_size: float


def wilson_bounds(rate: float, trials: float, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval of a binomial proportion `rate` out of `trials`.

    Unlike the percentile bootstrap or the Wald interval it is not degenerate at 0 or 1:
    0 failures out of 100 give a lower bound of 0.963 at 95%, not 1. `trials` may be
    fractional (an effective sample size). NaN bounds for no trials or no rate.
    """
    if not trials > 0 or not math.isfinite(rate):
        return math.nan, math.nan
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    z2n = z * z / trials
    centre = (rate + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(rate * (1.0 - rate) / trials + z2n / (4.0 * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def weighted_rate_interval(
    success: np.ndarray, weights: np.ndarray, confidence: float = 0.95
) -> Interval:
    """The weighted share of `success` with a Wilson interval on Kish's effective size.

    The estimate is sum(w s) / sum(w), an IPW ratio; the interval treats it as a proportion
    out of (sum w)^2 / sum w^2 equal-weight trials, so a few audits of weight 500 among
    thousands of alerts count as the few labels they are.
    """
    total = float(np.sum(weights))
    if not total > 0:
        return Interval(math.nan, math.nan, math.nan)
    rate = float(np.sum(weights * success)) / total
    low, high = wilson_bounds(rate, kish_effective_size(weights), confidence)
    return Interval(rate, low, high)


def rate_intervals(
    fraud: np.ndarray, flagged: np.ndarray, ipw: np.ndarray, confidence: float = 0.95
) -> tuple[Interval, Interval]:
    """(precision, recall) of one model at its threshold, each with its weighted Wilson
    interval: precision over the flagged labels, recall over the fraud labels. Promotion
    (the models' levels) and rollback (the bound it compares with) both use these."""
    return (
        weighted_rate_interval(fraud[flagged], ipw[flagged], confidence),
        weighted_rate_interval(flagged[fraud], ipw[fraud], confidence),
    )


def bootstrap_totals(columns: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Poisson bootstrap of weighted totals: (resamples, k) sums of the (n, k) `columns`.

    Each resample gives every label an independent Poisson(1) multiplicity. That is the
    bootstrap of the whole day's traffic, labeled or not (unlabeled events add zero to every
    total), in its large-N form; unlike resampling exactly n labels it lets the number of
    audits vary as it does from day to day. Same seed, same answer.
    """
    rng = np.random.default_rng(seed)
    n = columns.shape[0]
    totals = np.empty((resamples, columns.shape[1]), dtype=np.float64)
    for start in range(0, resamples, _BLOCK):
        stop = min(start + _BLOCK, resamples)
        multiplicity = rng.poisson(1.0, size=(stop - start, n)).astype(np.float64)
        # einsum, not @: a thin product like this is dominated by BLAS thread start-up,
        # which on a loaded host costs several times the arithmetic.
        totals[start:stop] = np.einsum("bn,nk->bk", multiplicity, columns)
    return totals


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def _interval(estimate: float, resampled: np.ndarray, confidence: float) -> Interval:
    finite = resampled[np.isfinite(resampled)]
    if finite.size == 0 or not math.isfinite(estimate):
        return Interval(estimate, math.nan, math.nan)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(estimate, float(low), float(high))


def model_intervals(
    fraud: np.ndarray,
    flagged: np.ndarray,
    ipw: np.ndarray,
    confidence: float = 0.95,
    resamples: int = 400,
    seed: int = 0,
) -> tuple[Interval, Interval]:
    """(precision, recall) of one model with percentile Poisson-bootstrap intervals.

    Falsely certain where the sample has no counter-example (no flagged legit: precision
    [1, 1]); the rules use `rate_intervals`, this measures the bootstrap itself (the audit
    rate table of docs/learning.md). Resamples without a flagged (or fraud) label have no
    precision (recall) and are left out of the percentiles.
    """
    columns = np.column_stack([ipw * (fraud & flagged), ipw * flagged, ipw * fraud])
    totals = bootstrap_totals(columns, resamples, seed)
    point = ipw_rates(fraud, flagged, ipw)
    return (
        _interval(point.precision, _ratio(totals[:, 0], totals[:, 1]), confidence),
        _interval(point.recall, _ratio(totals[:, 0], totals[:, 2]), confidence),
    )


def paired_evidence(
    sample: LabeledSample,
    challenger_review: float | None = None,
    confidence: float = 0.95,
    resamples: int = 400,
    seed: int = 0,
) -> PairedEvidence:
    """IPW precision and recall of champion and challenger: each model's with its weighted
    Wilson interval, the differences with a paired bootstrap.

    The champion flags an event when its risk reached the review threshold it was served
    under; the challenger when its shadow risk reaches `challenger_review` (default: the
    same serving threshold). Both are evaluated on the SAME resampled labels, so the
    interval of the difference keeps the correlation between the two (most events are
    judged alike by both) and is much narrower than two separate intervals would allow.
    """
    fraud, ipw = sample.fraud, sample.ipw
    champion = sample.champion_risk >= sample.review
    review = sample.review if challenger_review is None else challenger_review
    challenger = sample.challenger_risk >= review
    columns = np.column_stack(
        [
            ipw * (fraud & champion),
            ipw * champion,
            ipw * (fraud & challenger),
            ipw * challenger,
            ipw * fraud,
        ]
    )
    totals = bootstrap_totals(columns, resamples, seed)
    champion_precision = _ratio(totals[:, 0], totals[:, 1])
    challenger_precision = _ratio(totals[:, 2], totals[:, 3])
    champion_recall = _ratio(totals[:, 0], totals[:, 4])
    challenger_recall = _ratio(totals[:, 2], totals[:, 4])
    champion_point = ipw_rates(fraud, champion, ipw)
    challenger_point = ipw_rates(fraud, challenger, ipw)
    champion_levels = rate_intervals(fraud, champion, ipw, confidence)
    challenger_levels = rate_intervals(fraud, challenger, ipw, confidence)
    return PairedEvidence(
        champion_precision=champion_levels[0],
        champion_recall=champion_levels[1],
        challenger_precision=challenger_levels[0],
        challenger_recall=challenger_levels[1],
        precision_difference=_interval(
            challenger_point.precision - champion_point.precision,
            challenger_precision - champion_precision,
            confidence,
        ),
        recall_difference=_interval(
            challenger_point.recall - champion_point.recall,
            challenger_recall - champion_recall,
            confidence,
        ),
        labels=len(sample),
        frauds=sample.frauds,
        audits=sample.audits,
        effective_size=kish_effective_size(ipw),
    )
