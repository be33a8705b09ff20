"""The challenger (SGD from the champion's weights), the prequential window and the guardrail."""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import SGDClassifier

from fraudstream.model.linear import LinearModel, risk_from_logit

logger = logging.getLogger(__name__)

_CLASSES = np.array([0, 1])


class Challenger:
    """A copy of the champion's linear model that keeps learning with SGD (log loss).

    It learns in the champion's standardised space: the bundle's scaler (mean, scale) stays
    fixed, so every snapshot's coefficients mean the same thing and stay comparable.
    """

    def __init__(self, champion: LinearModel, learning_rate: float, l2_penalty: float) -> None:
        self.input_names = champion.input_names
        self.mean = champion.mean
        self.scale = champion.scale
        self._sgd = SGDClassifier(
            loss="log_loss",
            learning_rate="constant",
            eta0=learning_rate,
            alpha=l2_penalty,
            penalty="l2",
            # Label-log order, no shuffling: the same labels always give the same model, so
            # a restarted learner ends exactly where an uninterrupted one would.
            shuffle=False,
        )
        self.set_weights(champion.coefficients, champion.intercept)

    def set_weights(self, coefficients: Any, intercept: float) -> None:
        """Start from these weights (the champion's, or a saved challenger's)."""
        coef = np.asarray(coefficients, dtype=np.float64).reshape(1, -1)
        if coef.shape[1] != len(self.input_names):
            raise ValueError(f"{coef.shape[1]} coefficients for {len(self.input_names)} inputs")
        # partial_fit continues from coef_/intercept_ when they are already set.
        self._sgd.coef_ = coef.copy()
        self._sgd.intercept_ = np.array([float(intercept)])

    def logit(self, inputs: np.ndarray) -> np.ndarray:
        """Log-odds of each row of raw classifier inputs."""
        return np.asarray(self.standardise(inputs) @ self._sgd.coef_[0] + self._sgd.intercept_[0])

    def standardise(self, inputs: np.ndarray) -> np.ndarray:
        return np.asarray((np.asarray(inputs, dtype=np.float64) - self.mean) / self.scale)

    def learn(self, inputs: np.ndarray, fraud: np.ndarray, weights: np.ndarray) -> None:
        """One partial_fit update on a batch of raw inputs and FRAUD/LEGIT labels."""
        self._sgd.partial_fit(
            self.standardise(inputs),
            fraud.astype(np.int64),
            classes=_CLASSES,
            sample_weight=weights,
        )

    def linear(self) -> LinearModel:
        """The challenger as plain numbers (raises ValueError if SGD diverged to non-finite)."""
        return LinearModel(
            input_names=self.input_names,
            mean=self.mean,
            scale=self.scale,
            coefficients=self._sgd.coef_[0].copy(),
            intercept=float(self._sgd.intercept_[0]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "coefficients": self._sgd.coef_[0].tolist(),
            "intercept": float(self._sgd.intercept_[0]),
        }


def class_weights(frauds: int, legits: int, cap: float) -> tuple[float, float]:
    """(FRAUD, LEGIT) weights n / (2 * n_class) over all labels seen, capped at `cap`."""
    total = frauds + legits
    fraud = min(total / (2.0 * frauds), cap) if frauds else 1.0
    legit = min(total / (2.0 * legits), cap) if legits else 1.0
    return fraud, legit


@dataclass(frozen=True)
class WindowMetrics:
    """A model's prequential measurements on the recent window."""

    pr_auc: float
    recall: float
    labels: int
    frauds: int


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
        self.since_promotion = 0

    def __len__(self) -> int:
        return len(self._fraud)

    def add(
        self, fraud: np.ndarray, champion_logit: np.ndarray, challenger_logit: np.ndarray
    ) -> None:
        self._fraud.extend(bool(v) for v in fraud)
        self._champion.extend(float(v) for v in champion_logit)
        self._challenger.extend(float(v) for v in challenger_logit)
        self.since_promotion = min(self.since_promotion + len(fraud), len(self._fraud))

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "fraud": [int(v) for v in self._fraud],
            "champion_logit": list(self._champion),
            "challenger_logit": list(self._challenger),
            "since_promotion": self.since_promotion,
        }

    def restore(self, saved: dict[str, Any]) -> None:
        self._fraud.clear()
        self._champion.clear()
        self._challenger.clear()
        self.add(
            np.asarray(saved["fraud"], dtype=bool),
            np.asarray(saved["champion_logit"], dtype=np.float64),
            np.asarray(saved["challenger_logit"], dtype=np.float64),
        )
        self.since_promotion = min(int(saved["since_promotion"]), len(self._fraud))


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


@dataclass(frozen=True)
class Judgement:
    """The guardrail's answer after a batch: promote, refuse (counted), or wait."""

    promote: bool
    refused: bool
    reason: str


@dataclass(frozen=True)
class Guardrail:
    """Promote a challenger that is not worse than the champion by more than `margin`."""

    margin: float
    min_labels: int
    min_frauds: int

    def judge(
        self, champion: WindowMetrics, challenger: WindowMetrics, updates_since_promotion: int
    ) -> Judgement:
        if updates_since_promotion == 0:
            return Judgement(False, False, "nothing learned since the last promotion")
        if challenger.labels < self.min_labels or challenger.frauds < self.min_frauds:
            return Judgement(
                False,
                False,
                f"window holds {challenger.labels} labels and {challenger.frauds} frauds; "
                f"needs {self.min_labels} and {self.min_frauds}",
            )
        if challenger.frauds == challenger.labels:
            return Judgement(False, False, "window holds no LEGIT label")
        if challenger.pr_auc < champion.pr_auc - self.margin:
            return Judgement(
                False,
                True,
                f"challenger PR-AUC {challenger.pr_auc:.4f} < champion {champion.pr_auc:.4f} "
                f"- margin {self.margin}",
            )
        if challenger.recall < champion.recall - self.margin:
            return Judgement(
                False,
                True,
                f"challenger recall {challenger.recall:.4f} < champion {champion.recall:.4f} "
                f"- margin {self.margin}",
            )
        return Judgement(
            True,
            False,
            f"challenger PR-AUC {challenger.pr_auc:.4f} recall {challenger.recall:.4f} vs "
            f"champion {champion.pr_auc:.4f} / {champion.recall:.4f}",
        )
