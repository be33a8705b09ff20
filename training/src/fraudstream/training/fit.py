"""Fitting the three models: Isolation Forest, autoencoder (MLPRegressor), SGD classifier."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from fraudstream.model.detectors import (
    ISOLATION_FOREST_INPUTS,
    AutoencoderDetector,
    IsolationForestDetector,
    ScoreMap,
    autoencoder_inputs,
    columns_of,
)
from fraudstream.model.ensemble import classifier_inputs_of
from fraudstream.model.features import FEATURE_NAMES
from fraudstream.model.linear import LinearModel, linear_from_sklearn

logger = logging.getLogger(__name__)

Scorer = Callable[[np.ndarray], np.ndarray]


def _sample(rng: np.random.Generator, rows: np.ndarray, size: int) -> np.ndarray:
    return rows if rows.size <= size else np.sort(rng.choice(rows, size, replace=False))


def fit_isolation_forest(
    features: np.ndarray,
    seed: int,
    sample_rows: int = 200_000,
    max_samples: int = 1024,
    names: tuple[str, ...] = FEATURE_NAMES,
) -> IsolationForestDetector:
    """Unsupervised: fit on a random sample of all training rows (labels unused); `names` are
    the columns of `features` (a fraudstream.model.schema)."""
    rng = np.random.default_rng(seed)
    rows = _sample(rng, np.arange(features.shape[0]), sample_rows)
    columns = columns_of(ISOLATION_FOREST_INPUTS, names)
    model = IsolationForest(
        n_estimators=100, max_samples=min(max_samples, rows.size), random_state=seed, n_jobs=1
    )
    model.fit(features[rows][:, columns])
    detector = IsolationForestDetector(model=model, columns=columns, score_map=ScoreMap(0.0, 1.0))
    score_map = ScoreMap.fit(detector.raw(features[rows]))
    return IsolationForestDetector(model=model, columns=columns, score_map=score_map)


def fit_autoencoder(
    features: np.ndarray,
    legit: np.ndarray,
    seed: int,
    sample_rows: int = 200_000,
    epochs: int = 20,
    names: tuple[str, ...] = FEATURE_NAMES,
) -> AutoencoderDetector:
    """Fit an autoencoder-style MLPRegressor on legitimate rows to reproduce its own inputs
    (`autoencoder_inputs` of the columns `names`: with account features, those too)."""
    rng = np.random.default_rng(seed)
    rows = _sample(rng, np.flatnonzero(legit), sample_rows)
    columns = columns_of(autoencoder_inputs(names), names)
    x = features[rows][:, columns].astype(np.float64)
    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    network = MLPRegressor(
        hidden_layer_sizes=(8, 3, 8),
        batch_size=512,
        max_iter=epochs,
        learning_rate_init=1e-3,
        random_state=seed,
    )
    with warnings.catch_warnings():
        # A fixed epoch budget is the point; not converging to tol is expected.
        warnings.simplefilter("ignore", ConvergenceWarning)
        network.fit(z, z)
    detector = AutoencoderDetector(scaler, network, columns, ScoreMap(0.0, 1.0))
    score_map = ScoreMap.fit(detector.raw(features[rows]))
    return AutoencoderDetector(scaler, network, columns, score_map)


def fit_classifier(
    inputs: np.ndarray,
    labels: np.ndarray,
    seed: int,
    fraud_weight: float,
    epochs: int = 10,
    alpha: float = 3e-4,
    names: tuple[str, ...] = FEATURE_NAMES,
) -> tuple[LinearModel, StandardScaler, SGDClassifier]:
    """StandardScaler + SGDClassifier(log loss) with frauds weighted up; returns its numbers too.
    `inputs` are the features `names`, then the detector scores (classifier_inputs_of)."""
    scaler = StandardScaler().fit(inputs)
    # A constant input (a type never seen, say) would have scale 0; StandardScaler sets it to 1.
    model = SGDClassifier(
        loss="log_loss",
        alpha=alpha,
        max_iter=epochs,
        tol=None,
        class_weight={0: 1.0, 1: fraud_weight},
        random_state=seed,
        average=True,
    )
    model.fit(scaler.transform(inputs), labels)
    return linear_from_sklearn(classifier_inputs_of(names), scaler, model), scaler, model
