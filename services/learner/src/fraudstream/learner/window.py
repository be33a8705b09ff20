"""The prequential window: recent labels with the log-odds both models gave them beforehand,
and how each label was selected (alert or audit, its selection probability)."""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from fraudstream.learner.evidence import LabeledSample
from fraudstream.learner.verdicts import verdict_weight
from fraudstream.model.linear import risk_from_logit
from fraudstream.model.scores import Thresholds
from fraudstream.v1 import model_pb2

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowMetrics:
    """A model's prequential measurements on the recent window."""

    pr_auc: float
    recall: float
    labels: int
    frauds: int


@dataclass(frozen=True)
class WindowRecord:
    """A saved window: each label (1 FRAUD, 0 LEGIT) with the two log-odds, its selection
    probability and whether it was an audit, oldest first. `scored` counts every label ever
    added. States saved before selection was recorded load as alerts of probability 1."""

    fraud: list[int]
    champion_logit: list[float]
    challenger_logit: list[float]
    since_promotion: int
    propensity: list[float] = field(default_factory=list)
    audit: list[int] = field(default_factory=list)
    scored: int = 0

    @classmethod
    def empty(cls) -> WindowRecord:
        return cls(fraud=[], champion_logit=[], challenger_logit=[], since_promotion=0)


class PrequentialWindow:
    """The most recent labels with the log-odds champion and challenger gave each one
    BEFORE learning from it (test, then train).

    `since_promotion` counts the newest entries scored while the challenger differed from
    the champion: the head-to-head evidence a promotion is decided on. Older entries show
    the lineage now serving (the promoted challenger's record becomes the champion's).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._fraud: deque[bool] = deque(maxlen=size)
        self._champion: deque[float] = deque(maxlen=size)
        self._challenger: deque[float] = deque(maxlen=size)
        self._propensity: deque[float] = deque(maxlen=size)
        self._audit: deque[bool] = deque(maxlen=size)
        self.since_promotion = 0
        # Labels ever added (not capped by the size) and in the last add: when a judgement is due.
        self.scored = 0
        self.last_added = 0

    def __len__(self) -> int:
        return len(self._fraud)

    def add(
        self,
        fraud: np.ndarray,
        champion_logit: np.ndarray,
        challenger_logit: np.ndarray,
        propensity: np.ndarray | None = None,
        audit: np.ndarray | None = None,
    ) -> None:
        """Append scored labels; without `propensity`/`audit` they count as alerts (1.0)."""
        self._fraud.extend(bool(v) for v in fraud)
        self._champion.extend(float(v) for v in champion_logit)
        self._challenger.extend(float(v) for v in challenger_logit)
        n = len(fraud)
        self._propensity.extend([1.0] * n if propensity is None else (float(v) for v in propensity))
        self._audit.extend([False] * n if audit is None else (bool(v) for v in audit))
        self.since_promotion = min(self.since_promotion + n, len(self._fraud))
        self.scored += n
        self.last_added = n

    def selection(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fraud, propensity, audit) of every label in the window, oldest first."""
        return (
            np.asarray(self._fraud, dtype=bool),
            np.asarray(self._propensity, dtype=np.float64),
            np.asarray(self._audit, dtype=bool),
        )

    def clear(self) -> None:
        """Forget every label (after a rollback: the scores no longer describe the models)."""
        self.restore(WindowRecord.empty())

    def sample(self, serving: Thresholds, since_promotion: bool = True) -> LabeledSample:
        """The window's labels as a LabeledSample at the `serving` thresholds (by default only
        those scored since the last promotion).

        Risks are the ensemble's: the ensemble is stacked, so its risk is the classifier's
        probability on the features and the served detector scores, which is what both
        log-odds are. Trust weights follow `verdicts.verdict_weight` on the champion's risk.
        """
        start = len(self._fraud) - self.since_promotion if since_promotion else 0
        fraud = np.asarray(list(self._fraud)[start:], dtype=bool)
        champion = risk_from_logit(np.asarray(list(self._champion)[start:], dtype=np.float64))
        challenger = risk_from_logit(np.asarray(list(self._challenger)[start:], dtype=np.float64))
        n = fraud.shape[0]
        weight = [verdict_weight(bool(y), float(r)) for y, r in zip(fraud, champion, strict=True)]
        return LabeledSample(
            fraud=fraud,
            audit=np.asarray(list(self._audit)[start:], dtype=bool),
            propensity=np.asarray(list(self._propensity)[start:], dtype=np.float64),
            weight=np.asarray(weight, dtype=np.float64),
            champion_risk=champion,
            challenger_risk=challenger,
            # Label times are not kept: callers select by position (since_promotion), so
            # every label counts as arrived at time 0 for LabeledSample.since.
            label_time=np.zeros(n),
            review=np.full(n, serving.review),
            block=np.full(n, serving.block),
        )

    def promote(self) -> None:
        """The challenger became champion: its prequential record is now the champion's."""
        self._champion = deque(self._challenger, maxlen=self.size)
        self.since_promotion = 0

    def metrics(
        self, review: float, since_promotion: bool = False
    ) -> tuple[WindowMetrics, WindowMetrics]:
        """(champion, challenger) PR-AUC and recall at the REVIEW threshold on the window,
        or only on its entries since the last promotion."""
        start = len(self._fraud) - self.since_promotion if since_promotion else 0
        fraud = np.asarray(list(self._fraud)[start:], dtype=bool)
        return (
            _measure(fraud, np.asarray(list(self._champion)[start:], dtype=np.float64), review),
            _measure(fraud, np.asarray(list(self._challenger)[start:], dtype=np.float64), review),
        )

    def record(self) -> WindowRecord:
        """The window as the learner's state saves it."""
        return WindowRecord(
            fraud=[int(v) for v in self._fraud],
            champion_logit=list(self._champion),
            challenger_logit=list(self._challenger),
            since_promotion=self.since_promotion,
            propensity=list(self._propensity),
            audit=[int(v) for v in self._audit],
            scored=self.scored,
        )

    def restore(self, saved: WindowRecord) -> None:
        """Replace the window's content by a saved one (its newest `size` entries)."""
        self._fraud.clear()
        self._champion.clear()
        self._challenger.clear()
        self._propensity.clear()
        self._audit.clear()
        n = len(saved.fraud)
        # Older states recorded no selection: their labels were alerts.
        selected = len(saved.propensity) == n and len(saved.audit) == n
        self.add(
            np.asarray(saved.fraud, dtype=bool),
            np.asarray(saved.champion_logit, dtype=np.float64),
            np.asarray(saved.challenger_logit, dtype=np.float64),
            np.asarray(saved.propensity, dtype=np.float64) if selected else None,
            np.asarray(saved.audit, dtype=bool) if selected else None,
        )
        self.since_promotion = min(int(saved.since_promotion), len(self._fraud))
        self.scored = max(int(saved.scored), n)


def average_precision(fraud: np.ndarray, score: np.ndarray) -> float:
    """PR-AUC as scikit-learn's average_precision_score computes it (ties form one step).

    Written in numpy because it runs after every label batch, where scikit-learn's input
    validation costs more than the computation.
    """
    order = np.argsort(-score, kind="mergesort")
    ranked, hits = score[order], fraud[order]
    # Last index of each group of equal scores: one threshold per distinct score.
    ends = np.r_[np.flatnonzero(np.diff(ranked)), ranked.shape[0] - 1]
    true_positives = np.cumsum(hits)[ends]
    precision = true_positives / (ends + 1)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _measure(fraud: np.ndarray, logit: np.ndarray, review: float) -> WindowMetrics:
    frauds = int(fraud.sum())
    labels = int(fraud.shape[0])
    if frauds == 0 or frauds == labels:
        # PR-AUC needs both classes; report NaN rather than a number that means nothing.
        return WindowMetrics(math.nan, math.nan if frauds == 0 else 1.0, labels, frauds)
    pr_auc = average_precision(fraud, logit)
    # The scorers' own logistic, so recall here is recall as served.
    recall = float(np.mean(risk_from_logit(logit[fraud]) >= review))
    return WindowMetrics(pr_auc, recall, labels, frauds)


def snapshot_metrics(measured: WindowMetrics, champion: WindowMetrics) -> model_pb2.SnapshotMetrics:
    """`measured` as a snapshot (or the status) reports it, next to the champion's PR-AUC."""
    return model_pb2.SnapshotMetrics(
        pr_auc=measured.pr_auc,
        recall=measured.recall,
        window_size=measured.labels,
        champion_pr_auc=champion.pr_auc,
    )
