"""The drift experiment's numbers and plot: online loop against the same bundle frozen."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudstream.cli.analysts import row_of
from fraudstream.cli.demo.watch import Samples, buckets, judgement_causes, quantile, total

JSON_FILE = "experiment_drift.json"
PNG_FILE = "experiment_drift.png"
TARGET_RECALL = 0.8
_WINDOWS = 10
_MIN_ROWS = 10  # rows of the new pattern a recall needs before it is reported
_FLAGGED = (2, 3)  # DECISION_REVIEW, DECISION_BLOCK
_SNAPSHOT = re.compile(r"\+s(\d+)$")


def new_pattern(frame: pd.DataFrame, drift_step: int) -> np.ndarray:
    """Structuring transfers: fraud TRANSFERs under 10,000 from the drift step on."""
    return (
        (frame["isFraud"].to_numpy() == 1)
        & (frame["step"].to_numpy() >= drift_step)
        & (frame["type"].to_numpy() == "TRANSFER")
        & (frame["amount"].to_numpy() < 10_000)
    )


def _recall(flags: np.ndarray) -> float | None:
    return round(float(flags.mean()), 4) if flags.size >= 1 else None


def _quality(flags: np.ndarray, fraud: np.ndarray) -> dict[str, Any]:
    """Alerts, alert precision and recall of REVIEW-or-BLOCK `flags` against `fraud`."""
    alerts, hits = int(flags.sum()), int((flags & fraud).sum())
    return {
        "alerts": alerts,
        "precision": round(hits / alerts, 4) if alerts else None,
        "recall": round(hits / int(fraud.sum()), 4) if fraud.any() else None,
    }


def frozen_flags(frame: pd.DataFrame, models: Path) -> np.ndarray:
    """Which rows the bundle alone, never updated, sends to REVIEW or BLOCK."""
    from fraudstream.model.ensemble import load_ensemble
    from fraudstream.model.schema import frame_scores

    return np.isin(frame_scores(load_ensemble(models), frame).decision, _FLAGGED)


def analyse(
    frame: pd.DataFrame,
    drift_step: int,
    frozen: np.ndarray,
    run_id: str,
    outcome: dict[str, Any],
    label_events: dict[int, str],
    learner_metrics: Samples,
) -> dict[str, Any]:
    """Recall on the new pattern over time, labels it took, label-to-served latency."""
    target = new_pattern(frame, drift_step)
    rows = np.flatnonzero(target)  # in replay order, which is event time
    decisions: np.ndarray = outcome["decisions"]
    online = np.isin(decisions, _FLAGGED)
    seen = decisions[rows] != 0

    # New-pattern labels each served snapshot had learned from, via its label position.
    is_new = target.copy()
    new_positions = sorted(
        p
        for p, e in label_events.items()
        if (r := row_of(e)) is not None
        and r < len(is_new)
        and e.startswith(f"{run_id}-")
        and is_new[r]
    )
    position_of: dict[int, int] = outcome["position_of"]

    def learned(version: str | None) -> int:
        match = _SNAPSHOT.search(version or "")
        position = position_of.get(int(match.group(1)), 0) if match else 0
        return int(np.searchsorted(new_positions, position, side="right"))

    learned_by_row = np.array([learned(outcome["versions"][r]) for r in rows], dtype=int)

    windows = []
    for chunk in np.array_split(np.arange(rows.size), min(_WINDOWS, max(rows.size, 1))):
        if chunk.size == 0:
            continue
        picked = rows[chunk]
        windows.append(
            {
                "first_step": int(frame["step"].iloc[picked[0]]),
                "last_step": int(frame["step"].iloc[picked[-1]]),
                "rows": int(chunk.size),
                "online_recall": _recall(online[picked]),
                "frozen_recall": _recall(frozen[picked]),
                "new_pattern_labels_learned": int(learned_by_row[chunk].max()),
            }
        )

    reached = None
    for k in np.unique(learned_by_row):
        later = learned_by_row >= k
        if later.sum() >= _MIN_ROWS and online[rows[later]].mean() >= TARGET_RECALL:
            reached = int(k)
            break

    served = buckets(learner_metrics, "learner_label_to_served_seconds")
    scored = decisions != 0
    fraud = frame["isFraud"].to_numpy()[scored] == 1
    learned_served = learned_by_row[learned_by_row > 0]
    return {
        # Quality on every scored row, not just the pattern: what the recall cost in alerts.
        "all_traffic": {
            "rows": int(scored.sum()),
            "frauds": int(fraud.sum()),
            "online": _quality(online[scored], fraud),
            "frozen": _quality(frozen[scored], fraud),
        },
        "new_pattern": {
            "definition": "isFraud TRANSFER under 10,000 from the drift step on (structuring)",
            "rows": int(rows.size),
            "scored": int(seen.sum()),
            "online_recall": _recall(online[rows]),
            "frozen_recall": _recall(frozen[rows]),
            "online_recall_last_half": _recall(online[rows[rows.size // 2 :]]),
            "frozen_recall_last_half": _recall(frozen[rows[rows.size // 2 :]]),
        },
        "over_time": windows,
        "labels_to_recall": {
            "target_recall": TARGET_RECALL,
            "new_pattern_labels": reached,
            "first_promoted_new_pattern_labels": (
                int(learned_served.min()) if learned_served.size else None
            ),
            "meaning": "fewest new-pattern labels a served snapshot had learned from such that "
            "recall on every new-pattern row scored by snapshots with at least that many is "
            f">= {TARGET_RECALL} (null: never)",
            "new_pattern_labels_total": len(new_positions),
            "labels_total": len(label_events),
            "frauds_reported_back": outcome["reported"],
        },
        "label_to_served_seconds": {
            "p50": quantile(served, 0.5),
            "p99": quantile(served, 0.99),
            "count": int(total(learner_metrics, "learner_label_to_served_seconds_count")),
            "note": "learner histogram: label time to the first scorer applying the snapshot",
        },
        "snapshot_to_every_scorer_seconds": {
            kind: {
                "p50": quantile(fleet, 0.5),
                "p99": quantile(fleet, 0.99),
                "count": int(
                    total(learner_metrics, "learner_snapshot_to_fleet_seconds_count", kind=kind)
                ),
            }
            for kind in ("promotion", "rollback")
            if (fleet := buckets(learner_metrics, "learner_snapshot_to_fleet_seconds", kind=kind))
        },
        "promotions": int(total(learner_metrics, "learner_promotions_total")),
        "refusals": int(total(learner_metrics, "learner_promotion_refusals_total")),
        "rollbacks": {
            labels["reason"]: int(value)
            for labels, value in learner_metrics.get("learner_rollbacks_total", [])
        },
        "judgements": judgement_causes(learner_metrics),
    }


TARGET_LABELS = 50  # new-pattern labels within which recall must reach TARGET_RECALL
TARGET_SECONDS = 1.0  # label to served p99, and a snapshot to every scorer


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every run, the worst of them (lowest recall, most labels, slowest p99) and the verdict.

    A run that never reached the recall counts as the worst possible; a latency never
    observed (no promotion, no rollback) is reported as null and does not decide.
    """

    def worst_latency(key: str, kind: str | None = None) -> float | None:
        values = [(r[key] if kind is None else r[key].get(kind, {})).get("p99") for r in runs]
        known = [v for v in values if v is not None]
        return max(known) if known else None

    labels = [r["labels_to_recall"]["new_pattern_labels"] for r in runs]
    worst = {
        "online_recall": min(r["new_pattern"]["online_recall"] or 0.0 for r in runs),
        "frozen_recall_max": max(r["new_pattern"]["frozen_recall"] or 0.0 for r in runs),
        "new_pattern_labels_to_recall": None if None in labels else max(labels),
        "label_to_served_p99_seconds": worst_latency("label_to_served_seconds"),
        "promotion_to_every_scorer_p99_seconds": worst_latency(
            "snapshot_to_every_scorer_seconds", "promotion"
        ),
        "rollback_to_every_scorer_p99_seconds": worst_latency(
            "snapshot_to_every_scorer_seconds", "rollback"
        ),
    }
    checks = {
        "recall_within_labels": worst["new_pattern_labels_to_recall"] is not None
        and worst["new_pattern_labels_to_recall"] <= TARGET_LABELS,
        "label_to_served": worst["label_to_served_p99_seconds"] is None
        or worst["label_to_served_p99_seconds"] <= TARGET_SECONDS,
        "rollback_to_every_scorer": worst["rollback_to_every_scorer_p99_seconds"] is None
        or worst["rollback_to_every_scorer_p99_seconds"] <= TARGET_SECONDS,
    }
    return {
        "targets": {
            "recall": TARGET_RECALL,
            "within_new_pattern_labels": TARGET_LABELS,
            "label_to_served_p99_seconds": TARGET_SECONDS,
            "rollback_to_every_scorer_seconds": TARGET_SECONDS,
        },
        "worst": worst,
        "checks": checks,
        "verdict": "holds" if all(checks.values()) else "missed",
        "runs": runs,
    }


def write(result: dict[str, Any], reports: Path) -> tuple[Path, Path]:
    """reports/experiment_drift.json and a PNG of recall over time per seed, online against
    frozen (`result` from `combine`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reports.mkdir(parents=True, exist_ok=True)
    json_path, png_path = reports / JSON_FILE, reports / PNG_FILE
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    figure, axis = plt.subplots(figsize=(9, 4.5))
    for number, run in enumerate(result["runs"]):
        windows = run["over_time"]
        x = np.arange(len(windows))
        seed = run.get("seed", number)
        learned = [w["new_pattern_labels_learned"] for w in windows]
        (line,) = axis.plot(
            x, [w["online_recall"] for w in windows], "o-", label=f"online, seed {seed}"
        )
        axis.plot(
            x,
            [w["frozen_recall"] for w in windows],
            "s--",
            color=line.get_color(),
            alpha=0.5,
            label=f"frozen bundle, seed {seed}",
        )
        for xi, yi, k in zip(x, [w["online_recall"] for w in windows], learned, strict=True):
            if yi is not None:
                axis.annotate(
                    str(k), (xi, yi), fontsize=6, xytext=(2, 3), textcoords="offset points"
                )
    axis.axhline(TARGET_RECALL, color="grey", linewidth=0.8, linestyle=":")
    axis.set_xlabel(
        "tenths of the new pattern's rows, in event time "
        "(numbers: new-pattern labels the serving model had learned)"
    )
    axis.set_ylim(-0.05, 1.05)
    axis.set_ylabel("recall on structuring fraud")
    axis.set_title(
        f"Drift to structuring fraud: online learning against the frozen bundle "
        f"({result['verdict']})"
    )
    axis.legend(loc="center right", fontsize=7)
    figure.tight_layout()
    figure.savefig(png_path, dpi=120)
    plt.close(figure)
    return json_path, png_path
