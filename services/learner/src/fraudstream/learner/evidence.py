"""Labeled outcomes and inverse-propensity-weighted precision and recall on the whole traffic."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

ALERT = "alert"
AUDIT = "audit"


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

    def first(self, count: int) -> LabeledSample:
        """The `count` oldest labels (all but the newest len - count)."""
        return LabeledSample(**{name: getattr(self, name)[: max(count, 0)] for name in _COLUMNS})


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
