"""What the ensemble says about a batch: scores per detector, risk, decisions, and the
thresholds that turn a risk into a decision."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# fraudstream.v1.Decision numbers.
DECISION_ALLOW = 1
DECISION_REVIEW = 2
DECISION_BLOCK = 3
DECISION_NAMES = {DECISION_ALLOW: "ALLOW", DECISION_REVIEW: "REVIEW", DECISION_BLOCK: "BLOCK"}
# The classifier takes the detectors' 0..1 scores as extra inputs, under these names.


@dataclass(frozen=True)
class Thresholds:
    """Risk at or above `review` goes to an analyst; at or above `block` it is stopped."""

    review: float
    block: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.review <= self.block <= 1.0:
            raise ValueError(f"need 0 <= review <= block <= 1, got {self.review}, {self.block}")


def decide(risk: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """fraudstream.v1.Decision numbers (ALLOW 1, REVIEW 2, BLOCK 3) for each risk."""
    risk = np.asarray(risk)
    return np.where(
        risk >= thresholds.block,
        DECISION_BLOCK,
        np.where(risk >= thresholds.review, DECISION_REVIEW, DECISION_ALLOW),
    )


@dataclass(frozen=True)
class EnsembleScores:
    """Everything the ensemble says about a batch, one entry per row in every array."""

    risk: np.ndarray
    decision: np.ndarray
    scores: dict[str, np.ndarray]
    raw: dict[str, np.ndarray]
    fired: dict[str, np.ndarray]
    classifier_inputs: np.ndarray | None = None

    def take(self, rows: np.ndarray) -> EnsembleScores:
        """The same scores for the given rows only, in that order."""
        return EnsembleScores(
            risk=self.risk[rows],
            decision=self.decision[rows],
            scores={name: values[rows] for name, values in self.scores.items()},
            raw={name: values[rows] for name, values in self.raw.items()},
            fired={name: values[rows] for name, values in self.fired.items()},
            classifier_inputs=None
            if self.classifier_inputs is None
            else self.classifier_inputs[rows],
        )

    def unscorable_rows(self) -> np.ndarray:
        """Rows whose risk or any detector score is not a finite number (they must not be
        served: a NaN risk compares below every threshold and would read as ALLOW)."""
        bad = ~np.isfinite(self.risk)
        for values in self.scores.values():
            bad |= ~np.isfinite(values)
        return np.flatnonzero(bad)


def concat_scores(parts: list[EnsembleScores]) -> EnsembleScores:
    """The scores of several batches (from the same ensemble) as one, in order."""
    first = parts[0]
    inputs = [p.classifier_inputs for p in parts if p.classifier_inputs is not None]
    return EnsembleScores(
        risk=np.concatenate([p.risk for p in parts]),
        decision=np.concatenate([p.decision for p in parts]),
        scores={k: np.concatenate([p.scores[k] for p in parts]) for k in first.scores},
        raw={k: np.concatenate([p.raw[k] for p in parts]) for k in first.raw},
        fired={k: np.concatenate([p.fired[k] for p in parts]) for k in first.fired},
        classifier_inputs=np.concatenate(inputs) if len(inputs) == len(parts) else None,
    )
