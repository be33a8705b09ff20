"""The accounts experiment's models: the bundle's three models, fitted on either feature set.

The features are the project's own (`fraudstream.model.features` and, in event order, the offline
path of `fraudstream.model.accounts`). The models are fitted here with scikit-learn because
`training.fit` takes its detector inputs from the per-transaction schema only and has no option
for account features; the hyper-parameters are training.fit's, and the scoring (raw scores,
`ScoreMap`, max of the two detectors, the classifier over features and detector scores) is
`fraudstream.model`'s, so the run without account features is the bundle's detectors.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from fraudstream.model.accounts import ACCOUNT_FEATURE_NAMES, account_features_from_frame
from fraudstream.model.detectors import (
    AUTOENCODER,
    AUTOENCODER_INPUTS,
    ISOLATION_FOREST,
    ISOLATION_FOREST_INPUTS,
    AutoencoderDetector,
    IsolationForestDetector,
    ScoreMap,
    columns_of,
)
from fraudstream.model.features import FEATURE_NAMES, features_from_frame

logger = logging.getLogger(__name__)

# Columns of the experiment's matrix: the per-transaction vector, then the account features.
COLUMN_NAMES: tuple[str, ...] = (*FEATURE_NAMES, *ACCOUNT_FEATURE_NAMES)
UNSUPERVISED = "unsupervised_combined"  # max of the two detectors' 0..1 scores, as the bundle
SUPERVISED = "classifier"  # the bundle's combined risk when it has a classifier
# training.fit's settings.
_SAMPLE_ROWS = 200_000
_FOREST_SAMPLES = 1024
_EPOCHS = 20
_FRAUD_WEIGHT = 10.0


@dataclass(frozen=True)
class FeatureSet:
    """Which columns of the matrix each model reads: without or with the account features."""

    name: str
    forest: tuple[str, ...]
    autoencoder: tuple[str, ...]
    classifier: tuple[str, ...]

    @property
    def columns(self) -> dict[str, int]:
        """Inputs per model, counted (the report shows the with-accounts run reads more)."""
        return {
            ISOLATION_FOREST: len(self.forest),
            AUTOENCODER: len(self.autoencoder),
            SUPERVISED: len(self.classifier) + 2,
        }


WITHOUT = FeatureSet("without_account_features", ISOLATION_FOREST_INPUTS, AUTOENCODER_INPUTS,
                     FEATURE_NAMES)  # fmt: skip
WITH = FeatureSet(
    "with_account_features",
    (*ISOLATION_FOREST_INPUTS, *ACCOUNT_FEATURE_NAMES),
    (*AUTOENCODER_INPUTS, *ACCOUNT_FEATURE_NAMES),
    COLUMN_NAMES,
)
FEATURE_SETS = (WITHOUT, WITH)


def feature_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Per-transaction features and account features of a PaySim frame in row (event) order."""
    return np.hstack([features_from_frame(frame), account_features_from_frame(frame)])


def _sample(seed: int, rows: int) -> np.ndarray:
    everything = np.arange(rows)
    if rows <= _SAMPLE_ROWS:
        return everything
    return np.sort(np.random.default_rng(seed).choice(everything, _SAMPLE_ROWS, replace=False))


def fit_detectors(
    matrix: np.ndarray, features: FeatureSet, seed: int
) -> tuple[IsolationForestDetector, AutoencoderDetector]:
    """Isolation Forest and autoencoder on all rows given (no labels: unsupervised throughout)."""
    rows = _sample(seed, matrix.shape[0])
    train = matrix[rows]
    columns = columns_of(features.forest, COLUMN_NAMES)
    model = IsolationForest(
        n_estimators=100, max_samples=min(_FOREST_SAMPLES, rows.size), random_state=seed, n_jobs=1
    )
    model.fit(train[:, columns])
    forest = IsolationForestDetector(model, columns, ScoreMap(0.0, 1.0))
    forest = IsolationForestDetector(model, columns, ScoreMap.fit(forest.raw(train)))
    columns = columns_of(features.autoencoder, COLUMN_NAMES)
    x = train[:, columns].astype(np.float64)
    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    network = MLPRegressor(
        hidden_layer_sizes=(8, 3, 8), batch_size=512, max_iter=_EPOCHS,
        learning_rate_init=1e-3, random_state=seed,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed epoch budget, as training
        network.fit(z, z)
    encoder = AutoencoderDetector(scaler, network, columns, ScoreMap(0.0, 1.0))
    encoder = AutoencoderDetector(scaler, network, columns, ScoreMap.fit(encoder.raw(train)))
    return forest, encoder


def detector_scores(
    detectors: tuple[IsolationForestDetector, AutoencoderDetector], matrix: np.ndarray
) -> dict[str, np.ndarray]:
    """Each detector's 0..1 score and their max, the risk of a bundle without a classifier."""
    forest, encoder = detectors
    scores = {
        ISOLATION_FOREST: forest.score_map(forest.raw(matrix)),
        AUTOENCODER: encoder.score_map(encoder.raw(matrix)),
    }
    scores[UNSUPERVISED] = np.maximum(scores[ISOLATION_FOREST], scores[AUTOENCODER])
    return scores


def _classifier_inputs(
    matrix: np.ndarray, features: FeatureSet, scores: dict[str, np.ndarray]
) -> np.ndarray:
    columns = columns_of(features.classifier, COLUMN_NAMES)
    return np.column_stack([matrix[:, columns], scores[ISOLATION_FOREST], scores[AUTOENCODER]])


def fit_and_score_classifier(
    matrix: np.ndarray,
    labels: np.ndarray,
    scores: dict[str, np.ndarray],
    train: np.ndarray,
    features: FeatureSet,
    seed: int,
) -> np.ndarray:
    """The supervised classifier over features and detector scores, fitted on `train` rows with
    their labels (training.fit's settings); its fraud probability for every row."""
    inputs = _classifier_inputs(matrix, features, scores)
    scaler = StandardScaler().fit(inputs[train])
    model = SGDClassifier(
        loss="log_loss", alpha=3e-4, max_iter=10, tol=None,
        class_weight={0: 1.0, 1: _FRAUD_WEIGHT}, random_state=seed, average=True,
    )  # fmt: skip
    model.fit(scaler.transform(inputs[train]), labels[train])
    return np.asarray(model.predict_proba(scaler.transform(inputs))[:, 1], dtype=np.float64)
