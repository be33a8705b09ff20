"""Shadow scoring: the challenger scores the rows the serving model scored, deciding nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from fraudstream.model.linear import risk_from_logit
from fraudstream.model.scores import EnsembleScores, decide
from fraudstream.scorer.serving_model import ShadowModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowScores:
    """The challenger's opinion of the rows the serving model scored (same rows, same order).

    `scored[j]` is False where the challenger's risk is not finite: that row carries no
    challenger score. Nothing here ever reaches a decision.
    """

    model: ShadowModel
    risk: np.ndarray
    decision: np.ndarray
    scored: np.ndarray


def shadow_scores(challenger: ShadowModel, scores: EnsembleScores) -> ShadowScores | None:
    """The challenger's risks and decisions on the rows of `scores`, from the classifier
    inputs the serving model computed: the arithmetic of Ensemble.score, so the risks are
    bit for bit those of the ensemble with the challenger's classifier. None if it fails."""
    inputs = scores.classifier_inputs
    if inputs is None:
        return None
    model = challenger.classifier
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            z = (inputs - model.mean) / model.scale
            risk = risk_from_logit(z @ model.coefficients + float(model.intercept))
    except Exception as exc:  # the challenger must never cost the batch its served scores
        logger.error(
            "the challenger raised on a batch of %d (%s); no shadow scores", len(inputs), exc
        )
        return None
    scored = np.isfinite(risk)
    decision = np.where(scored, decide(np.where(scored, risk, 0.0), challenger.thresholds), 0)
    return ShadowScores(challenger, risk, decision, scored)
