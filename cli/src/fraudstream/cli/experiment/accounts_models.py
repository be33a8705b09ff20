"""The accounts experiment's models: the bundle's three models on either feature schema.

The features are the project's own (`fraudstream.model.schema`: the transaction features, then
in event order the account features), and the models are fitted by `training.fit`, the functions
`fraudstream train` calls, on the schema `train` (without) or `train --accounts` (with) uses:
the same inputs per detector (the Isolation Forest its three balance inputs, the autoencoder
its five plus the account features), the same settings and score maps. The one difference is
the labels: the experiment passes none, so the autoencoder fits on every row, as `train` does
with an unlabeled input.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudstream.model.detectors import (
    AUTOENCODER,
    ISOLATION_FOREST,
    ISOLATION_FOREST_INPUTS,
    AutoencoderDetector,
    IsolationForestDetector,
    ScoreMap,
    autoencoder_inputs,
)
from fraudstream.model.ensemble import DETECTOR_INPUT_NAMES
from fraudstream.model.schema import (
    ACCOUNT_SCHEMA,
    TRANSACTION_SCHEMA,
    FeatureSchema,
    frame_features,
)
from fraudstream.training.api import fit_autoencoder, fit_classifier, fit_isolation_forest

logger = logging.getLogger(__name__)

# Columns of the experiment's matrix: the account schema (transaction features first, so the
# transaction schema's columns are its leading ones).
COLUMN_NAMES: tuple[str, ...] = ACCOUNT_SCHEMA.names
UNSUPERVISED = "unsupervised_combined"  # max of the two detectors' 0..1 scores, as the bundle
SUPERVISED = "classifier"  # the bundle's combined risk when it has a classifier
_FRAUD_WEIGHT = 10.0  # TrainConfig's


@dataclass(frozen=True)
class FeatureSet:
    """A feature schema the bundle is trained on, and the inputs each model takes from it."""

    name: str
    schema: FeatureSchema

    @property
    def forest(self) -> tuple[str, ...]:
        """The Isolation Forest's inputs (the same three on either schema)."""
        return ISOLATION_FOREST_INPUTS

    @property
    def autoencoder(self) -> tuple[str, ...]:
        """The autoencoder's inputs: its five, then the schema's account features."""
        return autoencoder_inputs(self.schema.names)

    @property
    def columns(self) -> dict[str, int]:
        """Inputs per model, counted (the report shows the with-accounts run reads more)."""
        return {
            ISOLATION_FOREST: len(self.forest),
            AUTOENCODER: len(self.autoencoder),
            SUPERVISED: self.schema.width + len(DETECTOR_INPUT_NAMES),
        }

    def of(self, matrix: np.ndarray) -> np.ndarray:
        """The schema's columns of the experiment's matrix."""
        return matrix[:, : self.schema.width]


WITHOUT = FeatureSet("without_account_features", TRANSACTION_SCHEMA)
WITH = FeatureSet("with_account_features", ACCOUNT_SCHEMA)
FEATURE_SETS = (WITHOUT, WITH)


def feature_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Per-transaction features and account features of a PaySim frame in row (event) order,
    as float32 (as training holds them)."""
    return frame_features(frame, ACCOUNT_SCHEMA).astype(np.float32)


def fit_detectors(
    matrix: np.ndarray, features: FeatureSet, seed: int
) -> tuple[IsolationForestDetector, AutoencoderDetector]:
    """Isolation Forest and autoencoder as `train` fits them, on all rows given (no labels)."""
    x = features.of(matrix)
    names = features.schema.names
    forest = fit_isolation_forest(x, seed, names=names)
    encoder = fit_autoencoder(x, np.ones(x.shape[0], dtype=bool), seed, names=names)
    return forest, encoder


def detector_scores(
    detectors: tuple[IsolationForestDetector, AutoencoderDetector],
    matrix: np.ndarray,
    maps: tuple[ScoreMap, ScoreMap] | None = None,
) -> dict[str, np.ndarray]:
    """Each detector's 0..1 score and their max, the risk of a bundle without a classifier
    (`maps`: other score maps for the two, else their own)."""
    forest, encoder = detectors
    forest_map, encoder_map = maps or (forest.score_map, encoder.score_map)
    scores = {
        ISOLATION_FOREST: forest_map(forest.raw(matrix)),
        AUTOENCODER: encoder_map(encoder.raw(matrix)),
    }
    scores[UNSUPERVISED] = np.maximum(scores[ISOLATION_FOREST], scores[AUTOENCODER])
    return scores


def fit_and_score_classifier(
    matrix: np.ndarray,
    labels: np.ndarray,
    scores: dict[str, np.ndarray],
    train: np.ndarray,
    features: FeatureSet,
    seed: int,
) -> np.ndarray:
    """The supervised classifier over features and detector scores (`training.fit`), fitted on
    `train` rows with their labels; its fraud probability for every row."""
    detector_columns = [scores[name] for name in DETECTOR_INPUT_NAMES]
    inputs = np.column_stack([features.of(matrix), *detector_columns]).astype(np.float64)
    _, scaler, model = fit_classifier(
        inputs[train], labels[train], seed, _FRAUD_WEIGHT, names=features.schema.names
    )
    return np.asarray(model.predict_proba(scaler.transform(inputs))[:, 1], dtype=np.float64)
