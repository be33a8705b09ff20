"""One seed of the accounts experiment: simulated patterns (no labels), the PaySim reference."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from fraudstream.cli.demo.build import Steps
from fraudstream.cli.experiment.accounts_models import (
    FEATURE_SETS,
    SUPERVISED,
    UNSUPERVISED,
    detector_scores,
    feature_matrix,
    fit_and_score_classifier,
    fit_detectors,
)
from fraudstream.model.detectors import (
    AUTOENCODER,
    ISOLATION_FOREST,
    AutoencoderDetector,
    IsolationForestDetector,
    ScoreMap,
)
from fraudstream.training.api import (
    PATTERN_COLUMN,
    PATTERNS,
    SimulationConfig,
    patterns_path,
    recall_at_fpr,
    simulate,
    time_split,
)

logger = logging.getLogger(__name__)

FPR = 0.001
PAYSIM_TAKEOVER = "paysim_takeover"  # the simulator's own fraud (TRANSFER + CASH_OUT chains)
GROUPS: tuple[str, ...] = (*PATTERNS, PAYSIM_TAKEOVER)
DETECTORS: tuple[str, ...] = (ISOLATION_FOREST, AUTOENCODER, UNSUPERVISED)
# The same detectors with account features, their score maps centred on another quantile of the
# training rows: the calibration before CALIBRATION_QUANTILE (detectors.py says why it changed).
VARIANTS: dict[str, float] = {"score_maps_at_q999": 0.999}
# training's time split: earlier steps fit, the later 30% of rows are measured.
_VALIDATION_SHARE = 0.15
_TEST_SHARE = 0.15


def _instance_openers(side: pd.DataFrame, rows: int) -> np.ndarray:
    """Rows that open their pattern instance: the shared account (a mule's, else the sender's)
    has no earlier event, so nothing an account feature sees sets them apart."""
    mule = side[PATTERN_COLUMN].to_numpy() == "mule_fan_in"
    shared = np.where(mule, side["nameDest"].to_numpy(), side["nameOrig"].to_numpy())
    opener = np.zeros(rows, dtype=bool)
    opener[side["row"].to_numpy()[~pd.Series(shared).duplicated().to_numpy()]] = True
    return opener


def _variants(
    detectors: tuple[IsolationForestDetector, AutoencoderDetector],
    fitted_on: np.ndarray,
    measured: np.ndarray,
) -> dict[str, dict[str, np.ndarray]]:
    """Each variant's scores of the `measured` rows: the detectors' maps refitted on the raw
    scores of the rows they were fitted on, centred on the variant's quantile."""
    forest, encoder = detectors
    raw = (forest.raw(fitted_on), encoder.raw(fitted_on))
    return {
        name: detector_scores(
            detectors, measured, (ScoreMap.fit(raw[0], upper), ScoreMap.fit(raw[1], upper))
        )
        for name, upper in VARIANTS.items()
    }


def _groups(frame: pd.DataFrame, side: pd.DataFrame) -> np.ndarray:
    """Each row's fraud group ("" for legitimate rows): its pattern, else the simulator's own."""
    group = np.where(frame["isFraud"].to_numpy() == 1, PAYSIM_TAKEOVER, "").astype(object)
    group[side["row"].to_numpy()] = side[PATTERN_COLUMN].to_numpy(dtype=object)
    return group


def _recalls(
    scores: dict[str, np.ndarray], group: np.ndarray, detectors: tuple[str, ...] = DETECTORS
) -> dict[str, dict[str, Any]]:
    """Recall at FPR on each group's rows; the threshold is set on the legitimate rows only."""
    legit = group == ""
    result: dict[str, dict[str, Any]] = {}
    for name in GROUPS:
        rows = legit | (group == name)
        labels = (group[rows] == name).astype(np.int8)
        result[name] = {
            d: (round(recall_at_fpr(labels, scores[d][rows], FPR), 4) if labels.any() else None)
            for d in detectors
        }
    return result


def simulated_seed(
    rows: int, seed: int, share: float, workdir: Path, steps: Steps
) -> dict[str, Any]:
    """Simulate with every pattern at `share`, fit the detectors with no labels on the earlier
    steps, and measure recall at FPR 0.1% on each group's rows of the later steps."""
    out = workdir / f"accounts-{rows}-s{seed}-p{share:g}.csv"
    patterns = tuple((name, share) for name in PATTERNS)
    with steps.step(f"seed {seed}: simulate {rows} rows, each pattern at {share:g}") as timer:
        simulate(SimulationConfig(rows=rows, seed=seed, patterns=patterns), out, quiet=True)
        frame = pd.read_csv(out)
        side = pd.read_csv(patterns_path(out))
        group, opener = _groups(frame, side), _instance_openers(side, len(frame))
        timer.note = f"{int((group != '').sum())} fraud rows"
    with steps.step(f"seed {seed}: per-transaction and account features (event order)"):
        matrix = feature_matrix(frame)
    split = time_split(frame["step"].to_numpy(), _VALIDATION_SHARE, _TEST_SHARE)
    measured = ~split.train
    result: dict[str, Any] = {
        "seed": seed,
        "rows": len(frame),
        "fit_rows": int(split.train.sum()),
        "measured_rows": int(measured.sum()),
        "fit_last_step": split.train_last_step,
        "measured_group_rows": {g: int((group[measured] == g).sum()) for g in GROUPS},
        # The most a detector that only looks back can catch: all but each instance's opener.
        "recall_ceiling": {
            p: round(1.0 - float(opener[measured & (group == p)].mean()), 4) for p in PATTERNS
        },
        "recall_at_fpr": {},
    }
    for features in FEATURE_SETS:
        with steps.step(f"seed {seed}: fit and score the detectors {features.name}"):
            detectors = fit_detectors(matrix[split.train], features, seed)
            recalls = _recalls(detector_scores(detectors, matrix[measured]), group[measured])
        result["recall_at_fpr"][features.name] = recalls
        line = ", ".join(f"{g} {r[UNSUPERVISED]}" for g, r in recalls.items())
        steps.console.print(f"    recall at FPR {FPR:g} (no labels): {line}")
    # `detectors` are the ones with account features (FEATURE_SETS ends with WITH).
    for name, scores in _variants(detectors, matrix[split.train], matrix[measured]).items():
        result["recall_at_fpr"][name] = _recalls(scores, group[measured])
    return result


def load_reference(path: Path, steps: Steps) -> tuple[pd.DataFrame, np.ndarray]:
    """The reference sample and its feature matrix (account features over the sample's order)."""
    with steps.step(f"read the PaySim reference {path}") as timer:
        frame = pd.read_csv(path)
        timer.note = f"{len(frame)} rows, {int(frame['isFraud'].sum())} frauds"
    with steps.step("reference: per-transaction and account features"):
        matrix = feature_matrix(frame)
    return frame, matrix


def reference_seed(
    frame: pd.DataFrame, matrix: np.ndarray, seed: int, steps: Steps
) -> dict[str, Any]:
    """PR-AUC on the reference's test period: the detectors unlabeled, the classifier labeled."""
    labels = frame["isFraud"].to_numpy().astype(np.int8)
    split = time_split(frame["step"].to_numpy(), _VALIDATION_SHARE, _TEST_SHARE)
    test = split.test
    result: dict[str, Any] = {
        "seed": seed,
        "test_rows": int(test.sum()),
        "test_frauds": int(labels[test].sum()),
    }
    for features in FEATURE_SETS:
        with steps.step(f"reference seed {seed}: fit and score {features.name}"):
            detectors = fit_detectors(matrix[split.train], features, seed)
            scores = detector_scores(detectors, matrix)
            scores[SUPERVISED] = fit_and_score_classifier(
                matrix, labels, scores, split.train, features, seed
            )
        result[features.name] = _figures(labels[test], {n: s[test] for n, s in scores.items()})
        figures = result[features.name]
        steps.console.print(
            f"    PR-AUC: detectors (no labels) {figures[UNSUPERVISED]['pr_auc']}, "
            f"classifier (labels) {figures[SUPERVISED]['pr_auc']}"
        )
    for name, combined in _variants(detectors, matrix[split.train], matrix[test]).items():
        result[name] = _figures(labels[test], combined)
    return result


def _figures(labels: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    both = 0 < labels.sum() < labels.size
    return {
        name: {
            "pr_auc": round(float(average_precision_score(labels, s)), 4) if both else None,
            "recall_at_fpr": round(recall_at_fpr(labels, s, FPR), 4),
        }
        for name, s in scores.items()
    }
