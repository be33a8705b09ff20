"""Promote a challenger only when the labels show it is not worse; roll back when they show
the promoted model is."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from fraudstream.learner.evidence import LabeledSample
from fraudstream.learner.intervals import (
    Interval,
    PairedEvidence,
    paired_evidence,
    rate_intervals,
)

logger = logging.getLogger(__name__)

# Why a judgement came out as it did, in a word (a metric label; the reason says the rest).
NOT_WORSE = "not_worse"
FEW_LABELS = "few_labels"
FEW_AUDITS = "few_audits"
FEW_FLAGGED = "few_flagged"
NO_INTERVAL = "no_interval"
PRECISION_LOWER_BOUND = "precision_lower_bound"
RECALL_LOWER_BOUND = "recall_lower_bound"
NO_GAIN = "no_gain"
RATE_UNRESOLVED = "rate_unresolved"
CAUSES = (
    NOT_WORSE,
    FEW_LABELS,
    FEW_AUDITS,
    FEW_FLAGGED,
    NO_INTERVAL,
    PRECISION_LOWER_BOUND,
    RECALL_LOWER_BOUND,
    NO_GAIN,
    RATE_UNRESOLVED,
)


@dataclass(frozen=True)
class PromotionJudgement:
    """Promote, refuse (the challenger was shown or not shown to be not worse), or wait
    (too little evidence to say); `cause` is one of CAUSES."""

    promote: bool
    refused: bool
    reason: str
    evidence: PairedEvidence | None = None
    cause: str = ""


@dataclass(frozen=True)
class PromotionRule:
    """Non-inferiority on the whole traffic, at `confidence`, on precision AND recall.

    Promote when the lower bound of the paired bootstrap interval of (challenger -
    champion) is >= -margin for IPW precision and for IPW recall at the review threshold.
    The default margin, 0.2 points, is the smallest loss the stationary targets allow; with
    margin 0 a challenger must show a bound of exactly 0 or better; a challenger that flags
    audited legit traffic pays 1/audit_rate per such label, so winning on alerts cannot
    hide losing on the traffic nobody alerted.

    The minimum evidence is counted per estimate, on what each one rests on: `min_frauds`
    FRAUD labels (recall's denominator), `min_flagged` labels either model flagged
    (precision's) and `min_audits` audits (the traffic nobody alerted). `min_labels` is an
    optional floor on the total (0: none); a count of labels of any kind says nothing the
    three do not.
    """

    margin: float = 0.002
    confidence: float = 0.95
    min_labels: int = 0
    min_frauds: int = 20
    min_flagged: int = 20
    min_audits: int = 20
    resamples: int = 400
    seed: int = 0

    def judge(
        self, sample: LabeledSample, challenger_review: float | None = None
    ) -> PromotionJudgement:
        """The judgement on `sample` (labels both models scored), the challenger flagging at
        `challenger_review` (default: the serving review threshold)."""
        waiting = self.waits_for(sample)
        if waiting is not None:
            return waiting
        evidence = paired_evidence(
            sample, challenger_review, self.confidence, self.resamples, self.seed
        )
        for name, difference in (
            ("precision", evidence.precision_difference),
            ("recall", evidence.recall_difference),
        ):
            if not math.isfinite(difference.low):
                return PromotionJudgement(
                    False,
                    False,
                    f"no {name} interval (no flagged or fraud label)",
                    evidence,
                    NO_INTERVAL,
                )
            if difference.low < -self.margin:
                return PromotionJudgement(
                    False,
                    True,
                    f"challenger - champion IPW {name} {_describe(difference)} at "
                    f"{self.confidence:.0%}: lower bound < -margin {self.margin}",
                    evidence,
                    PRECISION_LOWER_BOUND if name == "precision" else RECALL_LOWER_BOUND,
                )
        return PromotionJudgement(
            True,
            False,
            f"not worse at {self.confidence:.0%}: IPW precision difference "
            f"{_describe(evidence.precision_difference)}, recall difference "
            f"{_describe(evidence.recall_difference)} (n_eff {evidence.effective_size:.0f})",
            evidence,
            NOT_WORSE,
        )

    def waits_for(self, sample: LabeledSample) -> PromotionJudgement | None:
        """The judgement "wait" when `sample` holds less than the minimum evidence, else None."""
        if len(sample) < self.min_labels or sample.frauds < self.min_frauds:
            return PromotionJudgement(
                False,
                False,
                f"{len(sample)} labels and {sample.frauds} frauds; "
                f"needs {self.min_labels} and {self.min_frauds}",
                cause=FEW_LABELS,
            )
        # Either model's flags are a precision denominator of the paired difference.
        either = (sample.champion_risk >= sample.review) | (sample.challenger_risk >= sample.review)
        flagged = int(np.sum(either))
        if flagged < self.min_flagged:
            return PromotionJudgement(
                False,
                False,
                f"{flagged} labels either model flagged; needs {self.min_flagged} to "
                "measure precision",
                cause=FEW_FLAGGED,
            )
        if sample.audits < self.min_audits:
            return PromotionJudgement(
                False,
                False,
                f"{sample.audits} audit labels; needs {self.min_audits} to see the "
                "traffic nobody alerted",
                cause=FEW_AUDITS,
            )
        return None


def _describe(interval: Interval) -> str:
    return f"{interval.estimate:+.4f} [{interval.low:+.4f}, {interval.high:+.4f}]"


@dataclass(frozen=True)
class RollbackJudgement:
    """Whether to give serving back to the previous champion, and why."""

    rollback: bool
    reason: str
    precision: Interval | None = None


@dataclass(frozen=True)
class RollbackRule:
    """Roll back when the promoted model's IPW precision on labels that arrived after the
    promotion falls below the previous champion's lower confidence bound (recorded at
    promotion as `PairedEvidence.champion_precision.low`, a weighted Wilson bound: below 1
    even when the previous champion flagged no legit label).

    The comparison uses the point estimate against a lower bound, so ordinary noise around
    an equally good model rarely trips it; the minimum-evidence guards keep the first few
    (possibly wrong) verdicts after a promotion from deciding alone.
    """

    min_labels: int = 100
    min_flagged: int = 30
    confidence: float = 0.95

    def judge(
        self, sample: LabeledSample, promoted_at: float, previous_precision_low: float
    ) -> RollbackJudgement:
        """Decide on the labels of `sample` with label_time >= `promoted_at`; the serving
        (promoted) model's risk is `champion_risk` there, flagged at its serving review."""
        after = sample.since(promoted_at)
        flagged = after.champion_risk >= after.review
        if len(after) < self.min_labels or int(flagged.sum()) < self.min_flagged:
            return RollbackJudgement(
                False,
                f"{len(after)} labels and {int(flagged.sum())} flagged since the promotion; "
                f"needs {self.min_labels} and {self.min_flagged}",
            )
        precision, _ = rate_intervals(after.fraud, flagged, after.ipw, self.confidence)
        if precision.estimate < previous_precision_low:
            return RollbackJudgement(
                True,
                f"IPW precision since the promotion {_describe_rate(precision)} < previous "
                f"champion's lower bound {previous_precision_low:.4f}",
                precision,
            )
        return RollbackJudgement(
            False,
            f"IPW precision since the promotion {_describe_rate(precision)} >= previous "
            f"champion's lower bound {previous_precision_low:.4f}",
            precision,
        )


def _describe_rate(interval: Interval) -> str:
    return f"{interval.estimate:.4f} [{interval.low:.4f}, {interval.high:.4f}]"
