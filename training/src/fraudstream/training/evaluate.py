"""`evaluate`: detection metrics of a bundle on labeled CSV or parquet, and a PR-curve PNG."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.model.detectors import COMBINED
from fraudstream.model.ensemble import FEATURES_ONLY, Ensemble, load_ensemble
from fraudstream.model.schema import schema_of
from fraudstream.training.featurize import iter_labeled
from fraudstream.training.metrics import detection_metrics
from fraudstream.training.progress import stderr_progress
from fraudstream.training.scoring import BatchScores, score_rows

logger = logging.getLogger(__name__)


def _clean(value: Any) -> Any:
    # JSON has no NaN: metrics undefined on this data (no frauds, say) become null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def score_file(
    ensemble: Ensemble, path: Path, quiet: bool = False
) -> tuple[BatchScores, np.ndarray]:
    """Scores and labels of every row of a CSV or feature parquet, read in chunks.

    Only the scores (a few floats per row) are kept, so memory grows by ~40 bytes a row.
    """
    parts: list[BatchScores] = []
    labels: list[np.ndarray] = []
    with stderr_progress(quiet) as bar:
        task = bar.add_task("evaluate", total=None)
        for chunk in iter_labeled(path, schema=schema_of(ensemble.feature_schema_hash)):
            parts.append(score_rows(ensemble, chunk.features))
            labels.append(chunk.label)
            bar.update(task, advance=chunk.label.size)
    return BatchScores.concat(parts), np.concatenate(labels) if labels else np.empty(0, np.int8)


def evaluate(
    path: Path, models: Path, reports: Path | None = Path("reports"), quiet: bool = False
) -> dict[str, Any]:
    """Metrics of each detector and of the combined risk on the labeled rows of `path`."""
    ensemble = load_ensemble(models)
    scores, labels = score_file(ensemble, path, quiet)
    if labels.size == 0:
        raise ValueError(f"{path} holds no rows")
    if labels.min() < 0:
        raise ValueError(f"{path} has no isFraud labels; evaluation needs labeled rows")
    detectors: dict[str, Any] = {
        COMBINED: detection_metrics(labels, scores.risk, ensemble.thresholds.review)
    }
    for name, values in scores.scores.items():
        detectors[name] = detection_metrics(labels, values, ensemble.fire_thresholds.get(name))
    if scores.features_only is not None:
        # Extra: what the classifier's feature weights alone rank (detector inputs at their mean).
        detectors[FEATURES_ONLY] = detection_metrics(labels, scores.features_only)
    report: dict[str, Any] = {
        "rows": int(labels.size),
        "frauds": int(labels.sum()),
        "input": str(path),
        "bundle_version": ensemble.version,
        "thresholds": {"review": ensemble.thresholds.review, "block": ensemble.thresholds.block},
        "detectors": detectors,
    }
    if reports is not None:
        report["pr_curve_png"] = str(_plot(scores, labels, path, reports))
    return _clean(report)  # type: ignore[no-any-return]


def _plot(scores: BatchScores, labels: np.ndarray, path: Path, reports: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import average_precision_score, precision_recall_curve

    reports.mkdir(parents=True, exist_ok=True)
    out = reports / f"pr_curve_{path.name.split('.')[0]}.png"
    figure, axes = plt.subplots(figsize=(6, 4.5))
    for name, values in {COMBINED: scores.risk, **scores.scores}.items():
        if 0 < labels.sum() < labels.size:
            precision, recall, _ = precision_recall_curve(labels, values)
            ap = average_precision_score(labels, values)
            axes.plot(recall, precision, label=f"{name} (PR-AUC {ap:.3f})")
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_title(f"{path.name}: {labels.size:,} rows, {int(labels.sum()):,} frauds", fontsize=9)
    axes.legend(loc="lower left", fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
