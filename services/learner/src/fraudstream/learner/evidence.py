"""Inverse-propensity-weighted precision and recall on the whole traffic, with paired intervals."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

ALERT = "alert"
AUDIT = "audit"

# Resamples are drawn in blocks of this many so memory stays ~ block x labels floats.
_BLOCK = 100


@dataclass(frozen=True)
class LabeledOutcome:
    """One analyst verdict with what both models said about the event.

    `propensity` is the probability that the event was labeled at all: 1.0 for an alert
    (every champion REVIEW/BLOCK is labeled), the ingest bridge's `audit_rate` for an audit.
    `weight` in (0, 1] is the trust in the verdict (see `verdicts.verdict_weight`).
    """

    fraud: bool
    kind: str
    propensity: float
    champion_risk: float
    challenger_risk: float
    label_time: float
    review: float
    block: float
    weight: float = 1.0


@dataclass(frozen=True)
class LabeledSample:
    """Labeled outcomes as columns; `ipw` = weight / propensity is each label's share of traffic."""

    fraud: np.ndarray
    audit: np.ndarray
    propensity: np.ndarray
    weight: np.ndarray
    champion_risk: np.ndarray
    challenger_risk: np.ndarray
    label_time: np.ndarray
    review: np.ndarray
    block: np.ndarray

    @classmethod
    def of(cls, outcomes: Sequence[LabeledOutcome]) -> LabeledSample:
        """Columns of `outcomes`; raises ValueError on a propensity or weight outside (0, 1]."""
        for outcome in outcomes:
            if outcome.kind not in (ALERT, AUDIT):
                raise ValueError(f"kind {outcome.kind!r} is neither {ALERT!r} nor {AUDIT!r}")
            if not 0.0 < outcome.propensity <= 1.0 or not 0.0 < outcome.weight <= 1.0:
                raise ValueError(
                    f"propensity {outcome.propensity} and weight {outcome.weight} "
                    "must lie in (0, 1]"
                )

        def column(name: str, dtype: type = np.float64) -> np.ndarray:
            return np.asarray([getattr(o, name) for o in outcomes], dtype=dtype)

        return cls(
            fraud=column("fraud", bool),
            audit=np.asarray([o.kind == AUDIT for o in outcomes], dtype=bool),
            propensity=column("propensity"),
            weight=column("weight"),
            champion_risk=column("champion_risk"),
            challenger_risk=column("challenger_risk"),
            label_time=column("label_time"),
            review=column("review"),
            block=column("block"),
        )

    def __len__(self) -> int:
        return int(self.fraud.shape[0])

    @property
    def ipw(self) -> np.ndarray:
        """Each label's weight in the whole traffic: trust / propensity."""
        return np.asarray(self.weight / self.propensity)

    @property
    def frauds(self) -> int:
        return int(self.fraud.sum())

    @property
    def audits(self) -> int:
        return int(self.audit.sum())

    def since(self, label_time: float) -> LabeledSample:
        """The labels that arrived at or after `label_time` (e.g. since a promotion)."""
        keep = self.label_time >= label_time
        return LabeledSample(**{name: getattr(self, name)[keep] for name in _COLUMNS})


_COLUMNS = tuple(LabeledSample.__dataclass_fields__)


@dataclass(frozen=True)
class Rates:
    """Precision and recall at one threshold; NaN where the denominator is zero."""

    precision: float
    recall: float


def ipw_rates(fraud: np.ndarray, flagged: np.ndarray, ipw: np.ndarray) -> Rates:
    """Horvitz-Thompson (ratio) estimates of precision and recall on the whole traffic.

    With w_i = trust_i / propensity_i, y_i the verdict and f_i = [risk_i >= review]:
        precision = sum(w y f) / sum(w f),   recall = sum(w y f) / sum(w y).
    Each labeled event stands for 1/propensity events of the traffic, so an audit case at
    audit_rate 0.002 counts like 500 unlabeled non-alerts; ratios of unbiased totals are
    consistent estimates (biased only to O(1/n)).
    """
    true_positive = float(np.sum(ipw * (fraud & flagged)))
    flagged_total = float(np.sum(ipw * flagged))
    fraud_total = float(np.sum(ipw * fraud))
    return Rates(
        precision=true_positive / flagged_total if flagged_total > 0 else math.nan,
        recall=true_positive / fraud_total if fraud_total > 0 else math.nan,
    )


def kish_effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2: how many equal-weight labels the
    weighted sample is worth (a few audits at weight 500 dominate thousands of alerts)."""
    total_squared = float(np.sum(np.square(weights)))
    return float(np.sum(weights)) ** 2 / total_squared if total_squared > 0 else 0.0


@dataclass(frozen=True)
class Interval:
    """A point estimate and its two-sided percentile bootstrap interval."""

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

    Resamples without a flagged (or fraud) label have no precision (recall) and are left
    out of the percentiles; the minimum-evidence rules keep those rare.
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
    """IPW precision and recall of champion and challenger, with a paired bootstrap.

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
    return PairedEvidence(
        champion_precision=_interval(champion_point.precision, champion_precision, confidence),
        champion_recall=_interval(champion_point.recall, champion_recall, confidence),
        challenger_precision=_interval(
            challenger_point.precision, challenger_precision, confidence
        ),
        challenger_recall=_interval(challenger_point.recall, challenger_recall, confidence),
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
