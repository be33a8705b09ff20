"""The two unsupervised detectors (Isolation Forest, autoencoder) and their 0..1 score mapping."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fraudstream.model.accounts import ACCOUNT_FEATURE_NAMES
from fraudstream.model.features import FEATURE_NAMES

logger = logging.getLogger(__name__)

ISOLATION_FOREST = "isolation_forest"
AUTOENCODER = "autoencoder"
CLASSIFIER = "classifier"
COMBINED = "combined"
DETECTORS: tuple[str, ...] = (ISOLATION_FOREST, AUTOENCODER, CLASSIFIER)

# Inputs of the unsupervised detectors: amount-normalised balance features on which account
# takeover stands out without labels (the full vector drowns them in type and size noise).
ISOLATION_FOREST_INPUTS: tuple[str, ...] = ("drain_gap", "dest_change", "orig_emptied")
AUTOENCODER_INPUTS: tuple[str, ...] = (
    "drain_gap",
    "dest_change",
    "orig_error_ratio",
    "dest_error_ratio",
    "amount_over_balance",
)


def autoencoder_inputs(feature_names: tuple[str, ...] = FEATURE_NAMES) -> tuple[str, ...]:
    """The autoencoder's inputs over a schema: AUTOENCODER_INPUTS, then any account features.

    The Isolation Forest keeps its three inputs: its random splits spread over the account
    features lose the balance signature it isolates (docs/account-features.md, Experiment).
    """
    return (*AUTOENCODER_INPUTS, *(n for n in feature_names if n in ACCOUNT_FEATURE_NAMES))


# The reconstruction error is floored before its log so a perfect reconstruction stays finite.
_ERROR_FLOOR = 1e-6


def columns_of(names: tuple[str, ...], feature_names: tuple[str, ...] = FEATURE_NAMES) -> list[int]:
    """Column indexes of `names` in the feature vector; ValueError names any unknown input."""
    missing = [n for n in names if n not in feature_names]
    if missing:
        raise ValueError(f"inputs {missing} are not features of this schema")
    return [feature_names.index(n) for n in names]


# The training quantile a detector's ScoreMap centres on (maps to 0.5). It must lie in
# legitimate traffic even when the training rows are unlabeled (fraud among them). At 0.999, on
# simulated data with 0.75% fraud, both centres fell in the fraud tail: far above the
# autoencoder's legitimate rows (frauds stand far out on it), just above the forest's (they
# barely do), so in the max of the two the forest's top legitimate rows took the FPR budget
# (structuring recall at FPR 0.1% 0.27 against 0.88 for the autoencoder alone;
# docs/account-features.md, Experiment). At 0.99 both centres are legitimate traffic while under
# 1% of training rows are fraud: each detector's tail is counted in its own legitimate spread,
# and each takes its share of an alert budget.
CALIBRATION_QUANTILE = 0.99


@dataclass(frozen=True)
class ScoreMap:
    """Maps a raw detector score to 0..1: a logistic centred on a high quantile of training data.

    With the defaults, a typical (median) training row maps near 0.01 and the 99th percentile
    (CALIBRATION_QUANTILE) to 0.5.
    """

    center: float
    scale: float

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        z = (np.asarray(raw, dtype=np.float64) - self.center) / self.scale
        z = np.minimum(np.maximum(z, -50.0), 50.0)  # np.clip's result, without its wrapper
        return 1.0 / (1.0 + np.exp(-z))

    @classmethod
    def fit(cls, raw: np.ndarray, upper: float = CALIBRATION_QUANTILE) -> ScoreMap:
        """Centre on the `upper` quantile; the median lands at about 1 - upper."""
        median, high = np.quantile(np.asarray(raw, dtype=np.float64), [0.5, upper])
        spread = max(float(high - median), 1e-9)
        return cls(center=float(high), scale=spread / math.log(upper / (1.0 - upper)))

    def to_dict(self) -> dict[str, float]:
        """Plain numbers for the manifest."""
        return {"center": self.center, "scale": self.scale}


@dataclass(frozen=True)
class IsolationForestDetector:
    """A fitted scikit-learn IsolationForest (or anything with score_samples) on a column subset."""

    model: Any
    columns: list[int]
    score_map: ScoreMap

    def raw(self, features: np.ndarray) -> np.ndarray:
        """Anomaly score: the opposite of score_samples (higher is more unusual)."""
        return -np.asarray(self.model.score_samples(features[:, self.columns]), dtype=np.float64)


@dataclass(frozen=True)
class AutoencoderDetector:
    """An MLPRegressor trained to reproduce standardised inputs; raw = log10 of its MSE."""

    scaler: Any
    network: Any
    columns: list[int]
    score_map: ScoreMap

    def raw(self, features: np.ndarray) -> np.ndarray:
        """log10 mean squared reconstruction error of the standardised inputs."""
        z = self.scaler.transform(features[:, self.columns])
        error = np.mean((self.network.predict(z) - z) ** 2, axis=1)
        return np.log10(error + _ERROR_FLOOR)


# In-place hidden activations of scikit-learn's MLP that numpy reproduces bit for bit.
_ACTIVATIONS = {
    "relu": lambda a: np.maximum(a, 0.0, out=a),
    "tanh": lambda a: np.tanh(a, out=a),
    "identity": lambda a: a,
}


@dataclass(frozen=True, eq=False)
class DenseAutoencoder:
    """The autoencoder scored in one numpy pass over arrays taken from its scaler and network.

    scikit-learn validates its input twice per call (scaler, network), which costs more than
    the arithmetic for the scorer's batches; the arithmetic here is the same, in float64, and
    so is the refusal of non-finite standardised inputs. Built from a fitted detector
    (`from_detector`, ValueError if it has no numpy form here) or from its own `arrays()`
    (`from_arrays`: a warm start, without scikit-learn).
    """

    columns: list[int]
    score_map: ScoreMap
    mean: np.ndarray
    scale: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    activation: str

    def __post_init__(self) -> None:
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"no numpy form for a {self.activation} network")
        width = len(self.columns)
        if self.mean.shape != (width,) or self.scale.shape != (width,) or not self.layers:
            raise ValueError(f"autoencoder arrays do not fit its {width} inputs")
        for weights, bias in self.layers:
            if weights.ndim != 2 or weights.shape[0] != width or bias.shape != weights.shape[1:]:
                raise ValueError("autoencoder layers do not fit together")
            width = weights.shape[1]
        if width != len(self.columns):
            raise ValueError("the autoencoder's output does not reproduce its inputs")

    @classmethod
    def from_detector(cls, detector: AutoencoderDetector) -> DenseAutoencoder:
        """The same detector scored in numpy."""
        network, scaler = detector.network, detector.scaler
        if network.activation not in _ACTIVATIONS or network.out_activation_ != "identity":
            raise ValueError(f"no numpy form for a {network.activation} network")
        if not (getattr(scaler, "with_mean", True) and getattr(scaler, "with_std", True)):
            raise ValueError("no numpy form for a partial StandardScaler")
        return cls(
            columns=list(detector.columns),
            score_map=detector.score_map,
            mean=np.asarray(scaler.mean_, dtype=np.float64).copy(),
            scale=np.asarray(scaler.scale_, dtype=np.float64).copy(),
            layers=tuple(
                (np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
                for w, b in zip(network.coefs_, network.intercepts_, strict=True)
            ),
            activation=str(network.activation),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The scaler and network as arrays (the columns and score map are the manifest's)."""
        arrays = {"mean": self.mean, "scale": self.scale, "activation": np.array(self.activation)}
        for i, (weights, bias) in enumerate(self.layers):
            arrays[f"weights_{i}"], arrays[f"bias_{i}"] = weights, bias
        return arrays

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], columns: list[int], score_map: ScoreMap
    ) -> DenseAutoencoder:
        """The detector `arrays()` describes; ValueError when they do not fit together."""
        layers: list[tuple[np.ndarray, np.ndarray]] = []
        while f"weights_{len(layers)}" in arrays:
            i = len(layers)
            layers.append(
                (
                    np.asarray(arrays[f"weights_{i}"], dtype=np.float64),
                    np.asarray(arrays[f"bias_{i}"], dtype=np.float64),
                )
            )
        return cls(
            columns=columns,
            score_map=score_map,
            mean=np.asarray(arrays["mean"], dtype=np.float64),
            scale=np.asarray(arrays["scale"], dtype=np.float64),
            layers=tuple(layers),
            activation=str(arrays["activation"]),
        )

    def raw(self, features: np.ndarray) -> np.ndarray:
        """log10 mean squared reconstruction error of the standardised inputs."""
        z = features[:, self.columns].astype(np.float64, copy=False)  # a fresh copy either way
        z -= self.mean
        z /= self.scale
        if not np.isfinite(z).all():
            # scikit-learn's network refuses these; the scorer then fails only those rows.
            raise ValueError("the autoencoder's standardised input contains infinity or NaN")
        hidden = _ACTIVATIONS[self.activation]
        out = z
        last = len(self.layers) - 1
        for i, (weights, bias) in enumerate(self.layers):
            out = out @ weights
            out += bias
            if i != last:
                hidden(out)
        out -= z
        out *= out
        # np.mean's own arithmetic (a sum, then a division by the count) without its wrapper.
        error = np.add.reduce(out, axis=1) / out.shape[1]
        error += _ERROR_FLOOR
        return np.log10(error)
