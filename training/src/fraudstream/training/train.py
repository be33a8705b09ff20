"""`train`: time-split the feature rows, fit the detectors and the classifier, write the bundle."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.model.accounts import ACCOUNT_FEATURES
from fraudstream.model.bundle import BundleError, file_sha256, load_bundle, write_bundle
from fraudstream.model.detectors import AUTOENCODER, CLASSIFIER, COMBINED, ISOLATION_FOREST
from fraudstream.model.ensemble import Ensemble, ensemble_from_bundle
from fraudstream.model.schema import schema_for
from fraudstream.model.scores import Thresholds
from fraudstream.model.signing import Signer
from fraudstream.training.featurize import LabeledFeatures, load_labeled
from fraudstream.training.finish import sign_or_unsign, warm_compiled_forest, warm_engine_cache
from fraudstream.training.fit import fit_autoencoder, fit_classifier, fit_isolation_forest
from fraudstream.training.metrics import detection_metrics
from fraudstream.training.scoring import BatchScores, score_batches
from fraudstream.training.split import TimeSplit, time_split

logger = logging.getLogger(__name__)

MODELS = ("all", "if", "ae", "sgd")
ARTIFACTS = {
    ISOLATION_FOREST: "isolation_forest.joblib",
    AUTOENCODER: "autoencoder.joblib",
    CLASSIFIER: "classifier.joblib",
}


@dataclass(frozen=True)
class TrainConfig:
    """What to train, on what, and how thresholds are chosen."""

    input: Path
    models: Path
    which: str = "all"
    seed: int = 7
    alert_budget: float = 0.005
    block_budget: float = 0.001
    min_review_risk: float = 0.5
    min_block_risk: float = 0.9
    validation_share: float = 0.15
    test_share: float = 0.15
    fraud_weight: float = 10.0
    max_classifier_rows: int = 1_500_000
    quiet: bool = False
    # Ed25519 private key (PEM) that signs the bundle (`manifest.sig`); None: unsigned.
    signing_key: Path | None = None
    # Build the compiled forest and the engines' arrays into the engine cache once the bundle
    # is written (the first scorer start is then a warm one).
    warm_compiled: bool = True
    # Train on the transaction features followed by the account features (schema.py): the
    # scorer then needs them with every transaction (the ingest bridge or the Flink job).
    account_features: bool = False


def _metrics(scores: BatchScores, labels: np.ndarray, ensemble: Ensemble) -> dict[str, Any]:
    if labels.size == 0 or labels.min() < 0:
        return {}
    result: dict[str, Any] = {"rows": int(labels.size), "frauds": int(labels.sum())}
    result[COMBINED] = detection_metrics(labels, scores.risk, ensemble.thresholds.review)
    for name, values in scores.scores.items():
        result[name] = detection_metrics(labels, values, ensemble.fire_thresholds.get(name))
    return result


def _existing(models: Path) -> Ensemble | None:
    try:
        return ensemble_from_bundle(load_bundle(models))
    except BundleError:
        return None


def train(config: TrainConfig) -> dict[str, Any]:
    """Train the chosen models and write (or update) the bundle in `config.models`."""
    if config.which not in MODELS:
        raise ValueError(f"unknown model {config.which!r}; choose one of {MODELS}")
    started = time.perf_counter()
    # Loaded first: a bad key must fail before the training run, not after it.
    signer = Signer.from_file(config.signing_key) if config.signing_key is not None else None
    schema = schema_for(config.account_features)
    data = load_labeled(config.input, schema)
    labeled = bool(data.label.min() >= 0)
    split = time_split(data.step, config.validation_share, config.test_share)
    logger.info(
        "split: train steps <= %d (%d rows), validation <= %d (%d), test (%d)",
        split.train_last_step, int(split.train.sum()), split.validation_last_step,
        int(split.validation.sum()), int(split.test.sum()),
    )  # fmt: skip
    previous = _existing(config.models) if config.which != "all" else None
    if previous is not None and previous.feature_schema_hash != schema.hash:
        raise ValueError(
            f"the bundle in {config.models} was trained on another feature schema (account "
            f"features: {previous.account_features}); retrain `all`"
        )
    ensemble = previous or Ensemble(
        version="training",
        thresholds=Thresholds(0.5, 0.5),
        feature_schema_hash=schema.hash,
        feature_names=schema.names,
    )
    train_x = data.features[split.train]
    train_y = data.label[split.train]
    if config.which in ("all", "if"):
        ensemble = replace(
            ensemble,
            isolation_forest=fit_isolation_forest(train_x, config.seed, names=schema.names),
        )
    if config.which in ("all", "ae"):
        legit = train_y == 0 if labeled else np.ones(train_y.size, dtype=bool)
        autoencoder = fit_autoencoder(train_x, legit, config.seed, names=schema.names)
        ensemble = replace(ensemble, autoencoder=autoencoder)
    classifier_parts = None
    if config.which in ("all", "sgd"):
        if not labeled:
            raise ValueError(f"{config.input} has no labels (isFraud); the classifier needs them")
        if ensemble.isolation_forest is None or ensemble.autoencoder is None:
            raise ValueError(
                "the classifier takes both detector scores: train `all`, or if and ae first"
            )
        classifier_parts = _fit_classifier(ensemble, data, split, config)
        ensemble = replace(ensemble, classifier=classifier_parts[0])
    elif previous is not None and previous.classifier is not None:
        logger.warning("the classifier keeps its weights for the old detector scores; retrain sgd")
    validation = score_batches(
        ensemble, data.features[split.validation], "validation", config.quiet
    )
    ensemble = _choose_thresholds(ensemble, validation, config)
    test = score_batches(ensemble, data.features[split.test], "test", config.quiet)
    manifest = {
        "feature_names": list(schema.names),
        "feature_schema_hash": schema.hash,
        "account_features": schema.account_features,
        **(
            {"account_definition": ACCOUNT_FEATURES.fingerprint()}
            if schema.account_features
            else {}
        ),
        "thresholds": {
            "review": ensemble.thresholds.review,
            "block": ensemble.thresholds.block,
            "alert_budget": config.alert_budget,
            "block_budget": config.block_budget,
            "min_review_risk": config.min_review_risk,
            "min_block_risk": config.min_block_risk,
        },
        "detectors": _detector_specs(ensemble),
        "training_data": {
            "path": str(config.input),
            "sha256": file_sha256(config.input),
            "rows": int(data.label.size),
            "frauds": int(data.label.sum()) if labeled else None,
            "split": {
                "train_last_step": split.train_last_step,
                "validation_last_step": split.validation_last_step,
                "train_rows": int(split.train.sum()),
                "validation_rows": int(split.validation.sum()),
                "test_rows": int(split.test.sum()),
            },
        },
        "training": {
            "models": config.which,
            "seed": config.seed,
            "fraud_weight": config.fraud_weight,
        },
        "metrics": {
            "validation": _metrics(validation, data.label[split.validation], ensemble),
            "test": _metrics(test, data.label[split.test], ensemble),
        },
    }
    if previous is not None:
        manifest["artifacts"] = load_bundle(config.models).manifest["artifacts"]
    artifacts = _artifacts(ensemble, config.which, classifier_parts)
    manifest["training"]["seconds"] = round(time.perf_counter() - started, 1)
    write_bundle(config.models, artifacts, manifest)
    sign_or_unsign(config.models, signer)
    forest = ensemble.isolation_forest
    # A forest kept from the previous bundle was compiled when it was loaded here.
    if config.warm_compiled and config.which in ("all", "if") and forest is not None:
        warm_compiled_forest(forest.model)
    if config.warm_compiled:
        warm_engine_cache(config.models)
    return manifest


def _fit_classifier(
    ensemble: Ensemble, data: LabeledFeatures, split: TimeSplit, config: TrainConfig
) -> tuple[Any, Any, Any]:
    rows = np.flatnonzero(split.train)
    labels = data.label[rows]
    legit = rows[labels == 0]
    fraud_weight = config.fraud_weight
    if legit.size > config.max_classifier_rows:
        # Fewer legitimate rows, each standing for more: scale the fraud weight to match.
        rng = np.random.default_rng(config.seed)
        kept = np.sort(rng.choice(legit, config.max_classifier_rows, replace=False))
        fraud_weight *= config.max_classifier_rows / legit.size
        rows = np.sort(np.concatenate([kept, rows[labels == 1]]))
    scores = score_batches(ensemble, data.features[rows], "classifier inputs", config.quiet)
    inputs = ensemble.classifier_inputs(data.features[rows].astype(np.float64), scores.scores)
    return fit_classifier(
        inputs, data.label[rows], config.seed, fraud_weight, names=ensemble.feature_names
    )


def _choose_thresholds(
    ensemble: Ensemble, validation: BatchScores, config: TrainConfig
) -> Ensemble:
    if validation.risk.size == 0:
        raise ValueError("the validation period holds no rows; the input is too small to split")
    # The budget caps the alert rate; the floors keep a confident model from alerting on
    # negligible risks just because the budget has room.
    review = max(
        float(np.quantile(validation.risk, 1.0 - config.alert_budget)), config.min_review_risk
    )
    block = max(
        float(np.quantile(validation.risk, 1.0 - config.block_budget)),
        config.min_block_risk,
        review,
    )
    # An unsupervised detector "fires" in the top alert-budget share of validation rows; the
    # classifier's probability is the risk, so it fires at REVIEW.
    fire = {
        name: float(np.quantile(values, 1.0 - config.alert_budget))
        for name, values in validation.scores.items()
    }
    if CLASSIFIER in fire:
        fire[CLASSIFIER] = review
    logger.info("thresholds: review %.4f, block %.4f", review, block)
    return replace(
        ensemble, thresholds=Thresholds(review=review, block=block), fire_thresholds=fire
    )


def _detector_specs(ensemble: Ensemble) -> dict[str, Any]:
    specs: dict[str, Any] = {}
    for name, detector in (
        (ISOLATION_FOREST, ensemble.isolation_forest),
        (AUTOENCODER, ensemble.autoencoder),
    ):
        if detector is not None:
            specs[name] = {
                "artifact": ARTIFACTS[name],
                "inputs": [ensemble.feature_names[c] for c in detector.columns],
                "score_map": detector.score_map.to_dict(),
                "fire_threshold": ensemble.fire_thresholds.get(name),
            }
    if ensemble.classifier is not None:
        specs[CLASSIFIER] = {
            "artifact": ARTIFACTS[CLASSIFIER],
            "inputs": list(ensemble.classifier.input_names),
            "linear": ensemble.classifier.to_dict(),
            "fire_threshold": ensemble.fire_thresholds.get(CLASSIFIER),
        }
    return specs


def _artifacts(ensemble: Ensemble, which: str, classifier_parts: Any) -> dict[str, Any]:
    artifacts: dict[str, Any] = {}
    if which in ("all", "if") and ensemble.isolation_forest is not None:
        artifacts[ARTIFACTS[ISOLATION_FOREST]] = ensemble.isolation_forest.model
    if which in ("all", "ae") and ensemble.autoencoder is not None:
        artifacts[ARTIFACTS[AUTOENCODER]] = {
            "scaler": ensemble.autoencoder.scaler,
            "network": ensemble.autoencoder.network,
        }
    if classifier_parts is not None:
        artifacts[ARTIFACTS[CLASSIFIER]] = {
            "scaler": classifier_parts[1],
            "model": classifier_parts[2],
        }
    return artifacts
