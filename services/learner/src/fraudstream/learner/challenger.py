"""The challenger: a copy of the champion's linear model that keeps learning with SGD."""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fraudstream.model.linear import LinearModel

if TYPE_CHECKING:
    from fraudstream.learner.config import LearnerConfig

logger = logging.getLogger(__name__)

_CLASSES = np.array([0, 1])


def warm_up_in_background() -> threading.Thread:
    """Import scikit-learn's SGD in a daemon thread, once the service is up.

    The challenger imports it on its first update so that a (re)started learner serves
    without waiting for it; but then the first labels wait for the import (seconds on a
    loaded host) and arrive at the learner as one burst: a promotion decided in that burst
    served its newest label 1.2-5 s after it was given (experiment drift). Importing it in
    the background while no label has come yet removes that wait from the label path.
    """
    thread = threading.Thread(
        target=importlib.import_module,
        args=("sklearn.linear_model",),
        name="sklearn-warm-up",
        daemon=True,
    )
    thread.start()
    return thread


@dataclass(frozen=True)
class ChallengerWeights:
    """The challenger's coefficients and intercept, in the champion's standardised space."""

    coefficients: list[float]
    intercept: float


class _Weights:
    """An SGD's coef_ and intercept_ before it first learns."""

    coef_: np.ndarray
    intercept_: np.ndarray


class Challenger:
    """A copy of the champion's linear model that keeps learning with SGD (log loss).

    It learns in the champion's standardised space: the bundle's scaler (mean, scale) stays
    fixed, so every snapshot's coefficients mean the same thing and stay comparable.
    """

    def __init__(self, champion: LinearModel, learning_rate: float, l2_penalty: float) -> None:
        self.input_names = champion.input_names
        self.mean = champion.mean
        self.scale = champion.scale
        self._learning_rate = learning_rate
        self._l2_penalty = l2_penalty
        # The weights alone until the first update: scikit-learn's import costs seconds of
        # start-up that a restarted learner need not pay before it serves.
        self._sgd: Any = _Weights()
        self.set_weights(champion.coefficients, champion.intercept)

    def _learning_sgd(self) -> Any:
        """The SGD that learns, created on first use with the weights held so far."""
        if isinstance(self._sgd, _Weights):
            from sklearn.linear_model import SGDClassifier

            sgd = SGDClassifier(
                loss="log_loss",
                learning_rate="constant",
                eta0=self._learning_rate,
                alpha=self._l2_penalty,
                penalty="l2",
                # Label-log order, no shuffling: the same labels always give the same model,
                # so a restarted learner ends exactly where an uninterrupted one would.
                shuffle=False,
            )
            # partial_fit continues from coef_/intercept_ when they are already set.
            sgd.coef_, sgd.intercept_ = self._sgd.coef_, self._sgd.intercept_
            self._sgd = sgd
        return self._sgd

    def restore(self, saved: ChallengerWeights) -> None:
        """Continue from weights saved earlier."""
        self.set_weights(saved.coefficients, saved.intercept)

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
        self._learning_sgd().partial_fit(
            self.standardise(inputs),
            fraud.astype(np.int64),
            classes=_CLASSES,
            sample_weight=weights,
        )

    def restart_if_diverged(self, champion: LinearModel) -> None:
        """Go back to the champion's weights if SGD diverged to non-finite numbers."""
        try:
            self.linear()
        except ValueError as exc:
            # A diverged SGD (learning rate far too high) must not poison the next snapshot.
            logger.error("challenger diverged (%s); restarting it from the champion", exc)
            self.set_weights(champion.coefficients, champion.intercept)

    def linear(self) -> LinearModel:
        """The challenger as plain numbers (raises ValueError if SGD diverged to non-finite)."""
        return LinearModel(
            input_names=self.input_names,
            mean=self.mean,
            scale=self.scale,
            coefficients=self._sgd.coef_[0].copy(),
            intercept=float(self._sgd.intercept_[0]),
        )

    def weights(self) -> ChallengerWeights:
        """The weights learned so far, as the learner's state saves them."""
        return ChallengerWeights(self._sgd.coef_[0].tolist(), float(self._sgd.intercept_[0]))


def class_weights(frauds: int, legits: int, cap: float) -> tuple[float, float]:
    """(FRAUD, LEGIT) weights n / (2 * n_class) over all labels seen, capped at `cap`."""
    total = frauds + legits
    fraud = min(total / (2.0 * frauds), cap) if frauds else 1.0
    legit = min(total / (2.0 * legits), cap) if legits else 1.0
    return fraud, legit


def selection_weights(
    fraud: np.ndarray,
    propensity: np.ndarray,
    cap: float,
    recent: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Per-label multipliers that share each class's weight among its labels in proportion
    to 1/propensity (each at most `cap`), relative to the mean over `recent` labels of the
    class ((fraud, propensity) columns; default: the batch itself).

    A label stands for 1/propensity events of the traffic: a fraud the champion missed
    that came back through an audit or a report stands for many, an alerted fraud for one.
    Giving it that share teaches the challenger most from what the champion gets wrong,
    while each class's total weight over the recent labels, and so the step size, stays the
    same. Relative to the recent labels rather than the batch, because labels arrive in
    batches of whatever size analysts produce (often one): a batch of one would share its
    class's weight with nobody and lose the emphasis altogether.
    """
    inverse = 1.0 / np.clip(propensity, 1e-9, 1.0)
    recent_fraud, recent_propensity = recent if recent is not None else (fraud, propensity)
    recent_inverse = 1.0 / np.clip(recent_propensity, 1e-9, 1.0)
    multipliers = np.ones_like(inverse)
    for members, recent_members in ((fraud, recent_fraud), (~fraud, ~recent_fraud)):
        if members.any():
            reference = recent_inverse[recent_members] if recent_members.any() else inverse
            multipliers[members] = np.minimum(inverse[members] / reference.mean(), cap)
    return multipliers


def training_propensity(propensity: np.ndarray, audit: np.ndarray, audit_rate: float) -> np.ndarray:
    """The selection probability `selection_weights` shares training weight by: a label's own,
    except that one the serving model ALLOWED (an audit, or a fraud a customer reported back)
    counts at most `audit_rate`.

    Evidence and training ask different things of a propensity. The evidence needs the true
    probability that the event was labeled: a reported fraud, with every missed fraud
    reported, has 1, and weighing it as a 1/audit_rate audit would make each such report
    stand for hundreds of frauds in the recall and alert-rate estimates. Training needs to
    learn most from what the serving model gets wrong, and a reported miss is exactly that,
    however surely it was reported.
    """
    return np.where(audit, np.minimum(propensity, audit_rate), propensity)


def example_weights(
    fraud: np.ndarray,
    propensity: np.ndarray | None,
    audit: np.ndarray | None,
    labels: dict[str, int],
    window: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: LearnerConfig,
) -> np.ndarray:
    """Training weight of each label: its class's weight (from all labels so far), times its
    selection weight when labels carry propensities, shared over the window's labels (these
    included: `window` is its (fraud, propensity, audit))."""
    cap = config.max_class_weight
    fraud_weight, legit_weight = class_weights(labels["fraud"], labels["legit"], cap)
    weights = np.where(fraud, fraud_weight, legit_weight)
    if propensity is None:
        return weights
    rate = config.audit_sample_rate
    if audit is not None:
        propensity = training_propensity(propensity, audit, rate)
    recent_fraud, recent_propensity, recent_audit = window
    recent = (recent_fraud, training_propensity(recent_propensity, recent_audit, rate))
    return weights * selection_weights(fraud, propensity, cap, recent)
