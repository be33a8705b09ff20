"""The accounts experiment's report: worst of the seeds, targets, JSON and a PNG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.cli.experiment.accounts_models import (
    FEATURE_SETS,
    SUPERVISED,
    UNSUPERVISED,
    WITH,
    WITHOUT,
)
from fraudstream.cli.experiment.accounts_run import FPR, GROUPS, VARIANTS
from fraudstream.model.detectors import AUTOENCODER
from fraudstream.training.api import PATTERNS

JSON_FILE = "accounts_experiment.json"
PNG_FILE = "accounts_experiment.png"
TARGET_RECALL = 0.8
TARGET_PR_AUC = 0.99


def _worst(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None and not np.isnan(v)]
    return min(present) if present else None


def worst_recall(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Per feature set, group and detector: the lowest recall over the seeds."""
    runs = per_seed[0]["recall_at_fpr"]
    return {
        run: {
            g: {d: _worst([s["recall_at_fpr"][run][g][d] for s in per_seed]) for d in runs[run][g]}
            for g in GROUPS
        }
        for run in runs
    }


def worst_reference(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Per feature set and scorer: the lowest PR-AUC and recall at FPR over the seeds."""
    runs = [f.name for f in FEATURE_SETS] + list(VARIANTS)
    return {
        run: {
            name: {
                metric: _worst([s[run][name][metric] for s in per_seed])
                for metric in ("pr_auc", "recall_at_fpr")
            }
            for name in per_seed[0][run]
        }
        for run in runs
    }


def verdicts(worst: dict[str, Any], reference_result: dict[str, Any]) -> dict[str, Any]:
    """The targets, each met or not, on the worst seed."""
    result: dict[str, Any] = {
        f"{p}_recall_{run}_at_least_{TARGET_RECALL}": _met(
            worst[run][p][UNSUPERVISED], TARGET_RECALL
        )
        for run in (WITH.name, *VARIANTS)
        for p in PATTERNS
    }
    reference = reference_result.get("worst_seed")
    if reference is not None:
        for scorer in (UNSUPERVISED, SUPERVISED):
            for run in (WITHOUT.name, WITH.name, *VARIANTS):
                if scorer in reference[run]:
                    value = reference[run][scorer]["pr_auc"]
                    key = f"reference_pr_auc_{scorer}_{run}_at_least_{TARGET_PR_AUC}"
                    result[key] = _met(value, TARGET_PR_AUC)
    if "bundle" in reference_result:
        bundle = reference_result["bundle"]["pr_auc_combined"]
        result[f"reference_pr_auc_bundle_combined_at_least_{TARGET_PR_AUC}"] = _met(
            bundle, TARGET_PR_AUC
        )
    if "bundle_with_account_features" in reference_result:
        bundle = reference_result["bundle_with_account_features"]["pr_auc_combined"]
        result[f"reference_pr_auc_account_bundle_combined_at_least_{TARGET_PR_AUC}"] = _met(
            bundle, TARGET_PR_AUC
        )
    return result


def _met(value: float | None, target: float) -> bool | None:
    return None if value is None else bool(value >= target)


_WIDTH = 0.25
_RUNS = (WITHOUT.name, WITH.name, *VARIANTS)
_BARS = tuple(
    (_WIDTH * (i - (len(_RUNS) - 1) / 2), run, colour)
    for i, (run, colour) in enumerate(
        zip(_RUNS, ("#9aa5b1", "#2b6cb0", "#ed8936", "#38a169")[: len(_RUNS)], strict=True)
    )
)


def _reference_panel(axis: Any, reference: dict[str, Any]) -> None:
    worst = reference.get("worst_seed")
    if not worst:
        axis.axis("off")
        axis.text(0.5, 0.5, reference.get("note", "skipped").replace(" (", "\n("), ha="center",
                  va="center", fontsize=8)  # fmt: skip
        return
    scorer = {UNSUPERVISED: "detectors, no labels", SUPERVISED: "classifier, labels"}
    rows = [
        (f"{run.replace('_', ' ')}\n{scorer[s]}", worst[run][s]["pr_auc"] or 0.0, colour)
        for s in (UNSUPERVISED, SUPERVISED)
        for _, run, colour in _BARS
        if s in worst[run]
    ]  # fmt: skip
    if "bundle" in reference:
        rows.append(("fraudstream train (bundle)\nclassifier, labels",
                     reference["bundle"]["pr_auc_combined"], "#4a5568"))  # fmt: skip
    y = np.arange(len(rows))
    bars = axis.barh(y, [r[1] for r in rows], color=[r[2] for r in rows])
    axis.bar_label(bars, fmt="%.3f", fontsize=7)
    axis.axvline(TARGET_PR_AUC, color="grey", linewidth=0.8, linestyle=":")
    axis.set_yticks(y, [r[0] for r in rows], fontsize=7)
    axis.invert_yaxis()
    axis.set_xlim(0, 1.15)
    axis.set_xlabel("PR-AUC on the test period (worst seed)")
    axis.set_title("PaySim reference sample", fontsize=9)


def write(result: dict[str, Any], reports: Path) -> tuple[Path, Path]:
    """reports/accounts_experiment.json and .png (recall per pattern with and without)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reports.mkdir(parents=True, exist_ok=True)
    json_path, png_path = reports / JSON_FILE, reports / PNG_FILE
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    worst = result["simulated"]["worst_seed"]
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 2]}
    )
    x = np.arange(len(GROUPS))
    for offset, run, colour in _BARS:
        values = [worst[run][g][UNSUPERVISED] or 0.0 for g in GROUPS]
        bars = left.bar(x + offset, values, _WIDTH, color=colour, label=run.replace("_", " "))
        left.bar_label(bars, fmt="%.2f", fontsize=6)
    ceiling = result["simulated"].get("recall_ceiling_lowest", {})
    marks = [i for i, g in enumerate(GROUPS) if g in ceiling]
    left.scatter(marks, [ceiling[GROUPS[i]] for i in marks], marker="_", s=900, color="black",
                 label="ceiling: all but each instance's first row")  # fmt: skip
    alone = [worst[WITH.name][g][AUTOENCODER] or 0.0 for g in GROUPS]
    left.scatter(np.arange(len(GROUPS)), alone, marker="o", s=18, color="#1a365d", zorder=3,
                 label="autoencoder alone, with account features")  # fmt: skip
    left.axhline(TARGET_RECALL, color="grey", linewidth=0.8, linestyle=":")
    left.set_xticks(x, [g.replace("_", "\n", 1) for g in GROUPS], fontsize=8)
    left.set_ylim(0, 1.4)
    left.set_ylabel(f"recall at FPR {FPR:.1%} (worst seed)")
    settings = result["settings"]
    left.set_title(
        f"No labels: Isolation Forest + autoencoder, {settings['rows']} rows, "
        f"{len(settings['seeds'])} seeds",
        fontsize=9,
    )
    left.legend(loc="upper left", fontsize=7, ncol=2)
    _reference_panel(right, result["reference"])
    figure.tight_layout()
    figure.savefig(png_path, dpi=120)
    plt.close(figure)
    return json_path, png_path
