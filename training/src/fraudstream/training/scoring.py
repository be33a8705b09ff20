"""Scoring many feature rows with an Ensemble in bounded batches, with a progress bar."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from fraudstream.model.ensemble import FEATURES_ONLY, Ensemble
from fraudstream.training.progress import stderr_progress

logger = logging.getLogger(__name__)

BATCH_ROWS = 100_000


@dataclass(frozen=True)
class BatchScores:
    """Combined risk and each detector's 0..1 score for a set of rows."""

    risk: np.ndarray
    scores: dict[str, np.ndarray]
    features_only: np.ndarray | None = None

    @classmethod
    def concat(cls, parts: list[BatchScores]) -> BatchScores:
        """All parts one after the other."""
        if not parts:
            return cls(np.empty(0), {})
        names = parts[0].scores.keys()
        features_only = [p.features_only for p in parts if p.features_only is not None]
        return cls(
            risk=np.concatenate([p.risk for p in parts]),
            scores={n: np.concatenate([p.scores[n] for p in parts]) for n in names},
            features_only=np.concatenate(features_only) if features_only else None,
        )


def score_rows(ensemble: Ensemble, features: np.ndarray) -> BatchScores:
    """One batch."""
    result = ensemble.score(np.asarray(features, dtype=np.float64))
    return BatchScores(result.risk, result.scores, result.raw.get(FEATURES_ONLY))


def score_batches(
    ensemble: Ensemble, features: np.ndarray, label: str, quiet: bool = False
) -> BatchScores:
    """Score `features` BATCH_ROWS at a time."""
    parts: list[BatchScores] = []
    with stderr_progress(quiet) as bar:
        task = bar.add_task(label, total=features.shape[0])
        for start in range(0, features.shape[0], BATCH_ROWS):
            parts.append(score_rows(ensemble, features[start : start + BATCH_ROWS]))
            bar.update(task, advance=min(BATCH_ROWS, features.shape[0] - start))
    return BatchScores.concat(parts)
