"""Vectorised scoring of a batch of feature rows by the whole ensemble: scores, risk, decisions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.model.bundle import Bundle, BundleError, load_bundle
from fraudstream.model.detectors import (
    AUTOENCODER,
    CLASSIFIER,
    ISOLATION_FOREST,
    AutoencoderDetector,
    DenseAutoencoder,
    IsolationForestDetector,
    ScoreMap,
    columns_of,
)
from fraudstream.model.engines import bundle_autoencoder, bundle_forest
from fraudstream.model.features import FEATURE_NAMES, FEATURE_SCHEMA_HASH
from fraudstream.model.linear import (
    Contribution,
    LinearModel,
    risk_from_logit,
    top_reasons,
)
from fraudstream.model.schema import schema_of
from fraudstream.model.scores import (
    EnsembleScores,
    Thresholds,
    decide,
)
from fraudstream.model.warm import EngineCache

logger = logging.getLogger(__name__)

DETECTOR_INPUT_NAMES = {
    ISOLATION_FOREST: "isolation_forest_score",
    AUTOENCODER: "autoencoder_score",
}


def classifier_inputs_of(feature_names: tuple[str, ...]) -> tuple[str, ...]:
    """The classifier's inputs over a feature schema: its features, then the detector scores."""
    return (*feature_names, *DETECTOR_INPUT_NAMES.values())


CLASSIFIER_INPUTS: tuple[str, ...] = classifier_inputs_of(FEATURE_NAMES)
# Key in EnsembleScores.raw of the classifier's log-odds without the detector-score inputs.
FEATURES_ONLY = "classifier_features_only"


@dataclass(frozen=True)
class Ensemble:
    """Isolation Forest + autoencoder + a linear classifier over features and their scores."""

    version: str
    thresholds: Thresholds
    isolation_forest: IsolationForestDetector | None = None
    autoencoder: AutoencoderDetector | DenseAutoencoder | None = None
    classifier: LinearModel | None = None
    fire_thresholds: dict[str, float] = field(default_factory=dict)
    feature_schema_hash: str = FEATURE_SCHEMA_HASH
    # The columns of the feature rows it scores (fraudstream.model.schema).
    feature_names: tuple[str, ...] = FEATURE_NAMES

    @property
    def account_features(self) -> bool:
        """Whether its feature rows end with the account features (schema_of says)."""
        return schema_of(self.feature_schema_hash).account_features

    def detector_scores(
        self, features: np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """0..1 scores and raw scores of the unsupervised detectors present."""
        scores: dict[str, np.ndarray] = {}
        raw: dict[str, np.ndarray] = {}
        for name, detector in (
            (ISOLATION_FOREST, self.isolation_forest),
            (AUTOENCODER, self.autoencoder),
        ):
            if detector is not None:
                raw[name] = detector.raw(features)
                scores[name] = detector.score_map(raw[name])
        return scores, raw

    def classifier_inputs(self, features: np.ndarray, scores: dict[str, np.ndarray]) -> np.ndarray:
        """Features followed by the detector scores, as the classifier expects them."""
        extra = [scores[name] for name in DETECTOR_INPUT_NAMES if name in scores]
        if not extra:
            return features
        inputs = np.empty((features.shape[0], features.shape[1] + len(extra)))
        inputs[:, : features.shape[1]] = features
        for offset, values in enumerate(extra, start=features.shape[1]):
            inputs[:, offset] = values
        return inputs

    def score(self, features: np.ndarray) -> EnsembleScores:
        """Score a batch of feature rows (n, len(self.feature_names))."""
        features = np.asarray(features, dtype=np.float64)
        width = len(self.feature_names)
        if features.ndim != 2 or features.shape[1] != width:
            raise ValueError(f"expected features of shape (n, {width}), got {features.shape}")
        scores, raw = self.detector_scores(features)
        inputs = None
        if self.classifier is not None:
            inputs = self.classifier_inputs(features, scores)
            # One standardisation serves the log-odds and the detector inputs' share of it;
            # the arithmetic is logit_from_linear's, so the risk is the learner's to the bit.
            model = self.classifier
            z = (inputs - model.mean) / model.scale
            logit = z @ model.coefficients + float(model.intercept)
            raw[CLASSIFIER] = logit
            # For analysis only: the log-odds with the detector-score inputs at their mean.
            detector_part = z[:, width:] * model.coefficients[width:]
            raw[FEATURES_ONLY] = logit - detector_part.sum(axis=1)
            # The ensemble is stacked: the classifier weighs features and detector scores, so
            # its probability is the combined risk.
            risk = risk_from_logit(logit)
            scores[CLASSIFIER] = risk
        elif scores:
            risk = np.max(np.column_stack(list(scores.values())), axis=1)
        else:
            raise BundleError("the ensemble has no detector to score with")
        fired = {
            name: values >= self.fire_thresholds.get(name, self.thresholds.review)
            for name, values in scores.items()
        }
        return EnsembleScores(
            risk=risk,
            decision=decide(risk, self.thresholds),
            scores=scores,
            raw=raw,
            fired=fired,
            classifier_inputs=inputs,
        )

    def reasons(
        self, result: EnsembleScores, top: int = 3, rows: np.ndarray | None = None
    ) -> list[list[Contribution]]:
        """For each of `rows` (default: all): the classifier inputs that pushed the risk up
        most, then the detectors that fired. Entries follow the order of `rows`."""
        picked = np.arange(result.risk.shape[0]) if rows is None else np.asarray(rows)
        explained: list[list[Contribution]] = [[] for _ in range(picked.size)]
        if picked.size == 0:
            return explained
        if self.classifier is not None and result.classifier_inputs is not None:
            explained = top_reasons(self.classifier, result.classifier_inputs[picked], top=top)
        for name, fired in result.fired.items():
            if name == CLASSIFIER:
                continue
            for position in np.flatnonzero(fired[picked]).tolist():
                row = int(picked[position])
                explained[position].append(
                    Contribution(
                        code=name,
                        text=_fired_text(name, float(result.scores[name][row])),
                        contribution=0.0,
                        detector=name,
                    )
                )
        return explained

    def with_classifier(
        self, classifier: LinearModel, thresholds: Thresholds | None = None
    ) -> Ensemble:
        """The same ensemble with a new linear classifier (an online snapshot), checked for fit."""
        expected = (
            self.classifier.input_names
            if self.classifier
            else classifier_inputs_of(self.feature_names)
        )
        if classifier.input_names != expected:
            raise ValueError(
                f"snapshot inputs {list(classifier.input_names)} do not match the ensemble's "
                f"classifier inputs {list(expected)}"
            )
        return replace(self, classifier=classifier, thresholds=thresholds or self.thresholds)


def _fired_text(detector: str, score: float) -> str:
    return f"{detector.replace('_', ' ')} fired (score {score:.2f})"


def ensemble_from_bundle(
    bundle: Bundle, forest: str | None = None, cache: EngineCache | None = None
) -> Ensemble:
    """Build the Ensemble from a loaded bundle; refuses a feature schema other than this code's.

    The detectors are scored by engines exact to scikit-learn's (docs/performance.md): the
    forest by `forest` (compiled when possible), the autoencoder in numpy, both from the
    engine `cache` when it holds them (engines.py: no unpickling then).
    """
    manifest = bundle.manifest
    try:
        schema = schema_of(str(manifest.get("feature_schema_hash", "")))
    except ValueError as exc:
        raise BundleError(f"bundle {bundle.directory} cannot be scored here: {exc}") from exc
    if bool(manifest.get("account_features", False)) != schema.account_features:
        raise BundleError(
            f"bundle {bundle.directory}: its manifest's account_features flag contradicts its "
            "feature schema"
        )
    detectors: dict[str, Any] = manifest.get("detectors", {})
    parts: dict[str, Any] = {}
    if ISOLATION_FOREST in detectors:
        spec = detectors[ISOLATION_FOREST]
        parts["isolation_forest"] = IsolationForestDetector(
            # Same scores as the scikit-learn forest, without its per-call cost.
            model=bundle_forest(bundle, spec["artifact"], forest, cache),
            columns=columns_of(tuple(spec["inputs"]), schema.names),
            score_map=ScoreMap(**spec["score_map"]),
        )
    if AUTOENCODER in detectors:
        parts["autoencoder"] = bundle_autoencoder(
            bundle, detectors[AUTOENCODER], cache, schema.names
        )
    if CLASSIFIER in detectors:
        parts["classifier"] = LinearModel.from_dict(detectors[CLASSIFIER]["linear"])
    thresholds = manifest["thresholds"]
    return Ensemble(
        version=bundle.version,
        thresholds=Thresholds(review=float(thresholds["review"]), block=float(thresholds["block"])),
        fire_thresholds={
            k: float(v["fire_threshold"]) for k, v in detectors.items() if "fire_threshold" in v
        },
        feature_schema_hash=schema.hash,
        feature_names=schema.names,
        **parts,
    )


def load_ensemble(directory: Path | str, forest: str | None = None) -> Ensemble:
    """Load and verify a bundle directory and build its Ensemble (`forest`: its engine)."""
    return ensemble_from_bundle(load_bundle(directory, lazy=True), forest)
