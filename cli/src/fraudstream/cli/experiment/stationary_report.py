"""The stationary experiment's numbers, verdict and plot: online loop against the frozen bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

JSON_FILE = "stationary_experiment.json"
PNG_FILE = "stationary_experiment.png"
# Most the online loop may lose against the frozen bundle, in percentage points of alert
# precision and of alert recall, in the worst seed, by share of wrong verdicts.
MAX_LOSS_POINTS = {0.03: 0.2, 0.10: 1.0}
MIN_SEEDS = 3
_METRICS = ("precision", "recall")


def run_record(error_rate: float, seed: int, summary: dict[str, Any]) -> dict[str, Any]:
    """One run's figures from the demo summary it produced."""
    quality = summary["frozen_vs_served"]
    learner, analysts = summary["learner"], summary["analysts"]
    return {
        "error_rate": error_rate,
        "seed": seed,
        "run_id": summary["run_id"],
        "complete": summary["complete"],
        "events": quality["events"],
        "frauds": quality["served"]["frauds"],
        "frozen": _quality(quality["frozen"]),
        "online": _quality(quality["served"]),
        "online_minus_frozen_points": quality["served_minus_frozen_points"],
        "bundle_served": quality["bundle_served"],
        "labels": analysts["labels"],
        "flipped": analysts["flipped"],
        "promotions": learner.get("promotions"),
        "refusals": learner.get("refusals"),
        "rollbacks": learner.get("rollbacks"),
        "judgements": learner.get("judgements"),
        "judgement_causes": learner.get("judgement_causes"),
        "last_judgement": learner.get("last_judgement"),
    }


def _quality(confusion: dict[str, Any]) -> dict[str, Any]:
    keep = ("transactions", "frauds", "tp", "fp", "fn", "precision", "recall")
    return {k: confusion[k] for k in keep}


def _target(error_rate: float) -> float | None:
    for rate, points in MAX_LOSS_POINTS.items():
        if abs(rate - error_rate) < 1e-9:
            return points
    return None


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(float(np.mean(known)), 4) if known else None


def _group(error_rate: float, runs: list[dict[str, Any]]) -> dict[str, Any]:
    mean = {
        f"{side}_{metric}": _mean([r[side][metric] for r in runs])
        for side in ("frozen", "online")
        for metric in _METRICS
    }
    worst: dict[str, Any] = {}
    for metric in _METRICS:
        # A run with no alert (or no fraud) has no value: it counts as the worst possible.
        gaps = [(r["online_minus_frozen_points"][metric], r["seed"]) for r in runs]
        points, seed = min(gaps, key=lambda g: -np.inf if g[0] is None else g[0])
        worst[metric] = {"points": points, "seed": seed}
        mean[f"online_minus_frozen_{metric}_points"] = _mean([g[0] for g in gaps])
    target = _target(error_rate)
    if target is None:
        verdict = "no target at this rate"
    elif len(runs) < MIN_SEEDS:
        verdict = f"not judged: {len(runs)} seed(s), the target needs the worst of {MIN_SEEDS}"
    elif all(w["points"] is not None and w["points"] >= -target for w in worst.values()):
        verdict = "holds"
    else:
        verdict = "fails"
    return {
        "error_rate": error_rate,
        "seeds": [r["seed"] for r in runs],
        # Whether the loop changed the served model at all, per seed.
        "promotions_by_seed": {str(r["seed"]): r["promotions"] for r in runs},
        "rollbacks_by_seed": {str(r["seed"]): r["rollbacks"] for r in runs},
        "mean": mean,
        "worst": worst,
        "target_max_loss_points": target,
        "verdict": verdict,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per error rate: the runs, their mean and worst seed, and the verdict."""
    rates = sorted({r["error_rate"] for r in runs})
    return {
        "definition": "alert = REVIEW or BLOCK; precision and recall against isFraud on the "
        "same events (every replayed row the pipeline scored); frozen = the bundle scored "
        "offline with the scorer's engine, never updated; online = the decisions served while "
        "the learner updated the scorer from simulated analysts' labels",
        "target": "online >= frozen - 0.2 pt at 3% wrong verdicts and >= frozen - 1 pt at 10%, "
        f"for precision and recall, in the worst of >= {MIN_SEEDS} seeds",
        "by_error_rate": [
            _group(rate, [r for r in runs if r["error_rate"] == rate]) for rate in rates
        ],
        "runs": runs,
    }


def write(result: dict[str, Any], reports: Path) -> tuple[Path, Path]:
    """The JSON and a PNG: per error rate, frozen and online precision and recall by seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reports.mkdir(parents=True, exist_ok=True)
    json_path, png_path = reports / JSON_FILE, reports / PNG_FILE
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    groups = result["by_error_rate"]
    figure, axes = plt.subplots(
        1, len(groups), figsize=(max(4.2 * len(groups), 7.0), 4.6), sharey=True, squeeze=False
    )
    for axis, group in zip(axes[0], groups, strict=True):
        runs = [r for r in result["runs"] if r["error_rate"] == group["error_rate"]]
        for m, metric in enumerate(_METRICS):
            for s, side in enumerate(("frozen", "online")):
                x = 2.5 * m + s
                values = [np.nan if r[side][metric] is None else r[side][metric] for r in runs]
                axis.scatter([x] * len(values), values, marker="os"[s], color=f"C{s}", zorder=3)
            for r in runs:
                frozen, online = r["frozen"][metric], r["online"][metric]
                if frozen is not None and online is not None:
                    axis.plot([2.5 * m, 2.5 * m + 1], [frozen, online], color="grey", lw=0.6)
                if r["seed"] == group["worst"][metric]["seed"] and online is not None:
                    axis.scatter(
                        [2.5 * m + 1],
                        [online],
                        s=160,
                        facecolors="none",
                        edgecolors="red",
                        zorder=4,
                    )
        axis.set_xticks(
            [0, 1, 2.5, 3.5],
            ["frozen\nprecision", "online\nprecision", "frozen\nrecall", "online\nrecall"],
        )
        target = group["target_max_loss_points"]
        axis.set_title(
            f"{group['error_rate']:.0%} wrong verdicts\n"
            + ("no target" if target is None else f"target -{target} pt: ")
            + ("" if target is None else group["verdict"].split(":")[0]),
            fontsize=9,
        )
        axis.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("alert precision / recall on the same events")
    figure.suptitle(
        "No drift: online loop vs the same bundle frozen\n(points: seeds; red ring: worst seed)",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(png_path, dpi=120)
    plt.close(figure)
    return json_path, png_path
