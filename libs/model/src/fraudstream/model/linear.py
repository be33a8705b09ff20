"""The classifier as plain numbers (scaler mean/scale, coefficients, intercept): risk and reasons.

This is the code the scorer and the learner share with offline evaluation: a ModelSnapshot on
the wire carries exactly these arrays, and `risk_from_linear` turns them into a risk.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fraudstream.model.reasons import input_text

logger = logging.getLogger(__name__)

# Logits are clipped only where exp() would overflow, so tiny risks keep their order.
_LOGIT_CLIP = 700.0


@dataclass(frozen=True)
class Contribution:
    """One input's push on one transaction's log-odds, with the words for it."""

    code: str
    text: str
    contribution: float
    detector: str = "classifier"


@dataclass(frozen=True, eq=False)
class LinearModel:
    """A fitted linear classifier in numbers: logit = intercept + coef . (x - mean) / scale."""

    input_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray
    intercept: float

    def __post_init__(self) -> None:
        n = len(self.input_names)
        for field in ("mean", "scale", "coefficients"):
            values = np.asarray(getattr(self, field), dtype=np.float64)
            if values.shape != (n,):
                raise ValueError(f"{field} has shape {values.shape}, expected ({n},)")
            if not np.isfinite(values).all():
                raise ValueError(f"{field} holds a non-finite number")
            object.__setattr__(self, field, values)
        if not np.all(self.scale > 0):
            raise ValueError("scale must be strictly positive")
        if not np.isfinite(self.intercept):
            raise ValueError("intercept must be finite")

    def logit(self, inputs: np.ndarray) -> np.ndarray:
        """Log-odds for each row of `inputs` (n, len(input_names))."""
        return logit_from_linear(inputs, self.mean, self.scale, self.coefficients, self.intercept)

    def risk(self, inputs: np.ndarray) -> np.ndarray:
        """Probability of fraud (0..1) for each row of `inputs`."""
        return risk_from_linear(inputs, self.mean, self.scale, self.coefficients, self.intercept)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able numbers (the manifest's and the snapshot's form)."""
        return {
            "input_names": list(self.input_names),
            "scaler_mean": self.mean.tolist(),
            "scaler_scale": self.scale.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": float(self.intercept),
        }

    @classmethod
    def from_dict(cls, numbers: dict[str, Any]) -> LinearModel:
        """Inverse of `to_dict`."""
        return cls(
            input_names=tuple(numbers["input_names"]),
            mean=np.asarray(numbers["scaler_mean"], dtype=np.float64),
            scale=np.asarray(numbers["scaler_scale"], dtype=np.float64),
            coefficients=np.asarray(numbers["coefficients"], dtype=np.float64),
            intercept=float(numbers["intercept"]),
        )


def logit_from_linear(
    inputs: np.ndarray, mean: Any, scale: Any, coefficients: Any, intercept: float
) -> np.ndarray:
    """Log-odds from plain arrays: intercept + coefficients . (inputs - mean) / scale."""
    z = (np.asarray(inputs, dtype=np.float64) - np.asarray(mean)) / np.asarray(scale)
    return np.asarray(z @ np.asarray(coefficients, dtype=np.float64) + float(intercept))


def risk_from_linear(
    inputs: np.ndarray, mean: Any, scale: Any, coefficients: Any, intercept: float
) -> np.ndarray:
    """Fraud probability (0..1) from plain arrays; the one formula evaluation and scorers use."""
    return risk_from_logit(logit_from_linear(inputs, mean, scale, coefficients, intercept))


def risk_from_logit(logit: np.ndarray) -> np.ndarray:
    """The logistic function as every fraudstream component applies it to log-odds."""
    # np.clip's result (NaN included), without its Python wrapper (microseconds a row).
    clipped = np.minimum(np.maximum(np.asarray(logit, dtype=np.float64), -_LOGIT_CLIP), _LOGIT_CLIP)
    return np.asarray(1.0 / (1.0 + np.exp(-clipped)))


def contributions(model: LinearModel, inputs: np.ndarray) -> np.ndarray:
    """Per-input log-odds contributions (n, inputs): coefficient times standardised value."""
    z = (np.asarray(inputs, dtype=np.float64) - model.mean) / model.scale
    return z * model.coefficients


def top_reasons(model: LinearModel, inputs: np.ndarray, top: int = 3) -> list[list[Contribution]]:
    """For each row, the inputs that pushed its risk up the most (positive contributions only)."""
    z = (np.asarray(inputs, dtype=np.float64) - model.mean) / model.scale
    pushes = z * model.coefficients
    order = np.argsort(-pushes, axis=1)[:, :top]
    result: list[list[Contribution]] = []
    for row, columns in enumerate(order):
        reasons = [
            Contribution(
                code=model.input_names[c],
                text=input_text(model.input_names[c], float(z[row, c])),
                contribution=float(pushes[row, c]),
            )
            for c in columns
            if pushes[row, c] > 0
        ]
        result.append(reasons)
    return result


def linear_from_sklearn(names: Sequence[str], scaler: Any, classifier: Any) -> LinearModel:
    """The plain numbers of a fitted StandardScaler + binary SGDClassifier/LogisticRegression."""
    return LinearModel(
        input_names=tuple(names),
        mean=np.asarray(scaler.mean_, dtype=np.float64),
        scale=np.asarray(scaler.scale_, dtype=np.float64),
        coefficients=np.asarray(classifier.coef_, dtype=np.float64).ravel(),
        intercept=float(np.asarray(classifier.intercept_).ravel()[0]),
    )
