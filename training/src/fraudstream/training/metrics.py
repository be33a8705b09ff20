"""Detection metrics: PR-AUC, ROC-AUC, recall at false-positive rates and at alert rates."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

logger = logging.getLogger(__name__)

FPR_LEVELS = (0.0001, 0.001, 0.01)
ALERT_RATES = (0.001, 0.005, 0.01)


def _threshold_at_fpr(legit_scores: np.ndarray, fpr: float) -> float:
    # The lowest threshold whose share of legitimate rows at or above it stays <= fpr.
    if legit_scores.size == 0:
        return -np.inf
    ordered = np.sort(legit_scores)[::-1]
    allowed = int(np.floor(fpr * ordered.size))
    if allowed >= ordered.size:
        return -np.inf
    return float(np.nextafter(ordered[allowed], np.inf))


def recall_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: float) -> float:
    """Share of frauds caught when at most `fpr` of legitimate rows are flagged (ties not split)."""
    fraud = labels == 1
    if not fraud.any():
        return float("nan")
    threshold = _threshold_at_fpr(scores[~fraud], fpr)
    return float(np.mean(scores[fraud] >= threshold))


def at_alert_rate(labels: np.ndarray, scores: np.ndarray, rate: float) -> tuple[float, float]:
    """(recall, precision) when the top `rate` share of rows by score is alerted."""
    n = scores.size
    k = max(round(rate * n), 1)
    top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    caught = int(labels[top].sum())
    frauds = int(labels.sum())
    recall = caught / frauds if frauds else float("nan")
    return recall, caught / k


def confusion(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, int]:
    """Confusion counts when rows scoring at or above `threshold` are alerted."""
    alerted = scores >= threshold
    fraud = labels == 1
    return {
        "tp": int(np.sum(alerted & fraud)),
        "fp": int(np.sum(alerted & ~fraud)),
        "fn": int(np.sum(~alerted & fraud)),
        "tn": int(np.sum(~alerted & ~fraud)),
    }


def detection_metrics(
    labels: np.ndarray, scores: np.ndarray, threshold: float | None = None
) -> dict[str, Any]:
    """All the metrics of one detector's scores on labeled rows (NaN where undefined)."""
    labels = np.asarray(labels).astype(np.int8)
    scores = np.asarray(scores, dtype=np.float64)
    both = 0 < labels.sum() < labels.size
    result: dict[str, Any] = {
        "pr_auc": float(average_precision_score(labels, scores)) if both else float("nan"),
        "roc_auc": float(roc_auc_score(labels, scores)) if both else float("nan"),
        "recall_at_fpr": {str(f): recall_at_fpr(labels, scores, f) for f in FPR_LEVELS},
        "recall_at_alert_rate": {},
        "precision_at_alert_rate": {},
    }
    for rate in ALERT_RATES:
        recall, precision = at_alert_rate(labels, scores, rate)
        result["recall_at_alert_rate"][str(rate)] = recall
        result["precision_at_alert_rate"][str(rate)] = precision
    if threshold is not None:
        result["threshold"] = float(threshold)
        result["confusion_at_review"] = confusion(labels, scores, threshold)
    return result
