"""Rollbacks as the learner records them, and the IPW evidence as its state and status keep it."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

from fraudstream.common.errors import FailedPrecondition, InvalidArgument, NotFound
from fraudstream.learner.evidence import LabeledSample
from fraudstream.learner.intervals import Interval, PairedEvidence, rate_intervals
from fraudstream.learner.promotion import RollbackRule
from fraudstream.learner.store import LearnerState, SnapshotStore, StateError
from fraudstream.model.linear import LinearModel
from fraudstream.model.scores import Thresholds
from fraudstream.model.snapshot import linear_from_snapshot, thresholds_from_snapshot
from fraudstream.v1.model_pb2 import SnapshotMetrics

logger = logging.getLogger(__name__)

# learner_rollbacks_total reasons: the rollback rule's, and an operator's Rollback RPC.
PRECISION_DROP = "precision_drop"
OPERATOR = "operator"


@dataclass(frozen=True)
class RollbackRecord:
    """One rollback: the NEW version it published, the version serving before it, the version
    whose content serves again (0: the bundle's classifier), why, and when (Unix seconds)."""

    version: int
    rolled_back_from: int
    restored_version: int
    reason: str
    automatic: bool
    time: float

    @classmethod
    def of(cls, saved: dict[str, Any] | None) -> RollbackRecord | None:
        return None if saved is None else cls(**saved)


@dataclass(frozen=True)
class RollbackWatch:
    """Set at a promotion made on evidence: the automatic rollback compares the promoted
    model's precision with `previous_precision_low` once `next_check` labels have been
    scored since the promotion, then every `min_labels` more."""

    previous_version: int
    previous_precision_low: float
    next_check: int

    @classmethod
    def of(cls, saved: dict[str, Any] | None) -> RollbackWatch | None:
        return None if saved is None else cls(**saved)


@dataclass(frozen=True)
class ModelEstimate:
    """One model's IPW precision and recall with bounds, on `labels` labels (`audits` audits)."""

    precision: Interval
    recall: Interval
    labels: int
    audits: int


def estimates_of(evidence: PairedEvidence) -> dict[str, Any]:
    """The champion's and challenger's estimates from `evidence`, as the state saves them."""

    def model(precision: Interval, recall: Interval) -> dict[str, Any]:
        return {
            "precision": [precision.estimate, precision.low, precision.high],
            "recall": [recall.estimate, recall.low, recall.high],
            "labels": evidence.labels,
            "audits": evidence.audits,
        }

    return {
        "champion": model(evidence.champion_precision, evidence.champion_recall),
        "challenger": model(evidence.challenger_precision, evidence.challenger_recall),
    }


def estimate_of(saved: dict[str, Any] | None, model: str) -> ModelEstimate | None:
    """`model`'s ("champion" or "challenger") saved estimate, None if there is none."""
    if saved is None or model not in saved:
        return None
    entry = saved[model]
    return ModelEstimate(
        precision=Interval(*(_number(v) for v in entry["precision"])),
        recall=Interval(*(_number(v) for v in entry["recall"])),
        labels=int(entry["labels"]),
        audits=int(entry["audits"]),
    )


def _number(value: Any) -> float:
    # Python's json writes NaN as NaN; a state edited by stricter tools may hold null.
    return math.nan if value is None else float(value)


def rollback_target(state: LearnerState, to_version: int | None) -> int:
    """The version a rollback restores: `to_version`, or the champion before the current one.

    InvalidArgument for the version serving now or one never promoted; FailedPrecondition
    when no champion served before the current one.
    """
    current = state.champion_version
    if to_version is None:
        if len(state.served_versions) < 2:
            raise FailedPrecondition("no earlier champion to roll back to")
        to_version = state.served_versions[-2]
    if to_version == current:
        raise InvalidArgument(f"v{to_version} is the version serving now")
    if not 0 <= to_version < current:
        raise InvalidArgument(f"v{to_version} was never promoted (serving v{current})")
    return to_version


@dataclass(frozen=True)
class RestoredModel:
    """What a rollback serves again: a version's classifier, thresholds, label position and
    metrics (version 0: the bundle's classifier and thresholds)."""

    classifier: LinearModel
    thresholds: Thresholds
    label_position: int
    metrics: SnapshotMetrics | None


def restored_model(
    store: SnapshotStore, classifier: LinearModel, thresholds: Thresholds, version: int
) -> RestoredModel:
    """Version `version`'s model from its saved snapshot, or the bundle's (`classifier`,
    `thresholds`) for 0; NotFound when its snapshot file was pruned or is damaged."""
    if version == 0:
        return RestoredModel(classifier, thresholds, 0, None)
    try:
        target = store.load_snapshot(version)
    except StateError as exc:
        raise NotFound(f"snapshot v{version} cannot be restored: {exc}") from None
    return RestoredModel(
        linear_from_snapshot(target),
        thresholds_from_snapshot(target),
        target.label_position,
        target.metrics,
    )


def watch_after_promotion(
    previous_version: int, previous_precision_low: float, every: int
) -> dict[str, Any] | None:
    """The rollback watch a promotion starts (None: no precision bound to compare with)."""
    if not math.isfinite(previous_precision_low):
        return None
    return asdict(RollbackWatch(previous_version, previous_precision_low, every))


def outgoing_precision_low(
    evidence: PairedEvidence | None, sample: LabeledSample, rule: RollbackRule
) -> float:
    """The outgoing champion's lower precision bound: from the promotion's evidence, or (for a
    guardrail that computed none) measured on `sample`, the labels it was judged on."""
    if evidence is not None:
        return evidence.champion_precision.low
    if not len(sample):
        return math.nan
    flagged = sample.champion_risk >= sample.review
    precision, _ = rate_intervals(sample.fraud, flagged, sample.ipw, rule.confidence)
    return precision.low


def next_check(watch: RollbackWatch, labels: int, every: int) -> int:
    """The label count of the check after the one due at `labels` (one check per `every`)."""
    return watch.next_check + every * (1 + (labels - watch.next_check) // every)
