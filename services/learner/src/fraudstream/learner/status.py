"""What the learner reports: its status, and the Prometheus metrics set from batches and status."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from fraudstream.learner.examples import LabelBatch
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.rollback import ModelEstimate, RollbackRecord, estimate_of
from fraudstream.learner.store import LearnerState
from fraudstream.learner.window import WindowMetrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LearnerStatus:
    """A consistent picture of the learner (for GetLearnerStatus and tests)."""

    bundle_version: str
    champion_version: int
    label_position: int
    labels_seen: int
    frauds_seen: int
    updates: int
    promotions: int
    refusals: int
    champion: WindowMetrics
    challenger: WindowMetrics
    last_promotion_time: float | None
    last_judgement: str
    refused_examples: dict[str, int] = field(default_factory=dict)
    rollbacks: int = 0
    last_rollback: RollbackRecord | None = None
    # IPW estimates of the newest judgement on evidence (None before any).
    champion_estimate: ModelEstimate | None = None
    challenger_estimate: ModelEstimate | None = None


def status_of(
    state: LearnerState, champion: WindowMetrics, challenger: WindowMetrics
) -> LearnerStatus:
    """The status of a learner in `state` whose window measures `champion` and `challenger`."""
    return LearnerStatus(
        bundle_version=state.bundle_version,
        champion_version=state.champion_version,
        label_position=state.label_position,
        labels_seen=state.labels_seen,
        frauds_seen=state.labels["fraud"],
        updates=state.updates,
        promotions=state.promotions,
        refusals=state.refusals,
        champion=champion,
        challenger=challenger,
        last_promotion_time=state.last_promotion_time,
        last_judgement=state.last_judgement,
        refused_examples=dict(state.refused_examples),
        rollbacks=state.rollbacks,
        last_rollback=RollbackRecord.of(state.last_rollback),
        champion_estimate=estimate_of(state.evidence, "champion"),
        challenger_estimate=estimate_of(state.evidence, "challenger"),
    )


@dataclass(frozen=True)
class Tally:
    """Running totals of updates, promotions and refusals; two of them tell what a batch did."""

    updates: int
    promotions: int
    refusals: int

    @classmethod
    def of(cls, state: LearnerState) -> Tally:
        return cls(state.updates, state.promotions, state.refusals)

    def since(self, earlier: Tally) -> Tally:
        return Tally(
            self.updates - earlier.updates,
            self.promotions - earlier.promotions,
            self.refusals - earlier.refusals,
        )


def count_batch(metrics: LearnerMetrics, batch: LabelBatch, done: Tally) -> None:
    """Add an applied batch's labels, refusals, updates and promotions to the counters."""
    frauds = int(batch.fraud.sum())
    metrics.labels_consumed.labels("fraud").inc(frauds)
    metrics.labels_consumed.labels("legit").inc(len(batch) - frauds)
    for reason, count in batch.refused.items():
        metrics.examples_refused.labels(reason).inc(count)
    metrics.online_updates.inc(done.updates)
    metrics.promotions.inc(done.promotions)
    metrics.refusals.inc(done.refusals)


def show_status(metrics: LearnerMetrics, status: LearnerStatus) -> None:
    """Set the gauges from `status` (after each batch, and at start after a restore)."""
    for model, measured in (("champion", status.champion), ("challenger", status.challenger)):
        metrics.prequential_pr_auc.labels(model).set(measured.pr_auc)
        metrics.prequential_recall.labels(model).set(measured.recall)
    metrics.window_labels.set(status.challenger.labels)
    for model, estimate in (
        ("champion", status.champion_estimate),
        ("challenger", status.challenger_estimate),
    ):
        for gauge, interval in (
            (metrics.ipw_precision, estimate.precision if estimate else None),
            (metrics.ipw_recall, estimate.recall if estimate else None),
        ):
            bounds = (
                (math.nan,) * 3
                if interval is None
                else (interval.estimate, interval.low, interval.high)
            )
            for bound, value in zip(("estimate", "low", "high"), bounds, strict=True):
                gauge.labels(model, bound).set(value)
    estimate = status.champion_estimate
    audits = estimate.audits if estimate else 0
    metrics.evidence_labels.labels("audit").set(audits)
    metrics.evidence_labels.labels("alert").set(estimate.labels - audits if estimate else 0)
    metrics.champion_version.set(status.champion_version)
    metrics.label_position.set(status.label_position)
    metrics.last_promotion.set(status.last_promotion_time or 0.0)
