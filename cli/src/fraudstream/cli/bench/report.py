"""The benchmark report: headline figures with baselines and ratios, JSON, PNG and a table."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from fraudstream.common.files import atomic_write

logger = logging.getLogger(__name__)


def figure(
    value: float,
    unit: str,
    what: str,
    baseline: float | None = None,
    baseline_what: str | None = None,
    higher_is_better: bool = True,
    target: float | None = None,
) -> dict[str, Any]:
    """One headline number; `ratio` is how many times better than its baseline (same run)."""
    entry: dict[str, Any] = {
        "value": value,
        "unit": unit,
        "what": what,
        "better": "higher" if higher_is_better else "lower",
    }
    if baseline is not None:
        entry["baseline"] = baseline
        entry["baseline_what"] = baseline_what
        entry["ratio"] = value / baseline if higher_is_better else baseline / value
        entry["ratio_means"] = (
            "value / baseline" if higher_is_better else "baseline / value (times faster)"
        )
    if target is not None:
        entry["target"] = target
        entry["target_met"] = value >= target if higher_is_better else value <= target
    return entry


# Issue 15's targets for served StreamScores against the peers, measured in the same run.
TARGET_VS_MLSERVER = 10.0
TARGET_VS_BEST_INPROCESS = 1.5


def comparisons(figures: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Ratios across sections: served StreamScores against MLServer and the in-process peers."""
    served = figures.get("scorer.stream_served_tx_per_s")
    if served is None:
        return {}
    what = served["what"]
    found = {}
    for key, peer, target in (
        ("mlserver.batched_rows_per_s", "MLServer", TARGET_VS_MLSERVER),
        ("inprocess.best_peer_rows_per_s", "best in-process peer", TARGET_VS_BEST_INPROCESS),
    ):
        if key in figures:
            name = "mlserver" if key.startswith("mlserver") else "best_inprocess"
            found[f"scorer.stream_vs_{name}_ratio"] = figure(
                served["value"] / figures[key]["value"],
                "x",
                f"{what} / {peer} ({figures[key]['what']})",
                target=target,
            )
    return found


def headline(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The figures of every section that ran, flat (the report keeps them under `figures`)."""
    return dict(report.get("figures", {}))


def write_json(report: dict[str, Any], path: Path) -> None:
    """Write the report atomically (a reader never sees half a file)."""
    atomic_write(path, (json.dumps(report, indent=2) + "\n").encode(), durable=False)


def _bars(axis: Any, rows: list[tuple[str, float, str]], title: str, unit: str) -> None:
    labels = [label for label, _value, _colour in rows]
    values = [value for _label, value, _colour in rows]
    colours = [colour for _label, _value, colour in rows]
    positions = range(len(rows))
    axis.barh(positions, values, color=colours)
    axis.set_yticks(list(positions), labels, fontsize=8)
    axis.invert_yaxis()
    axis.set_xscale("log")
    axis.set_title(title, fontsize=10)
    axis.set_xlabel(unit)
    for position, value in zip(positions, values, strict=True):
        axis.text(value, position, f" {_number(value)}", va="center", fontsize=7)


_OURS, _BASE, _PEER = "#1f77b4", "#bbbbbb", "#ff7f0e"
# (figure key, label, colour) of the throughput and latency panels.
_THROUGHPUT = (
    ("scorer.baseline_tx_per_s", "scikit-learn per event", _BASE),
    ("mlserver.batched_rows_per_s", "MLServer IF, 64 rows/request", _PEER),
    ("mlserver.fraudstream_batched_rows_per_s", "fraudstream Score, 64 rows/request", _OURS),
    ("inprocess.scikit-learn_rows_per_s", "in-process scikit-learn batch 512", _PEER),
    ("inprocess.fused_onnxruntime_rows_per_s", "in-process ONNX Runtime forest, 512", _PEER),
    ("inprocess.fused_tl2cgen_rows_per_s", "in-process tl2cgen forest, 512", _PEER),
    ("scorer.stream_tx_per_s", "fraudstream StreamScores, 512/batch", _OURS),
    ("scorer.stream_2_scorers_tx_per_s", "StreamScores, 2 scorer processes", _OURS),
    ("endtoend.tx_per_s", "end to end Kafka->scored, over a backlog", _OURS),
    ("endtoend.drain_2x2_tx_per_s", "end to end, 2 bridges + 2 scorers, backlog", _OURS),
    ("endtoend.live_replay_tx_per_s", "end to end, replay rate 0 live", _OURS),
)
_LATENCY = (
    ("scorer.baseline_p99_ms", "scikit-learn per event p99", _BASE),
    ("mlserver.one_row_p99_ms", "MLServer IF one row p99", _PEER),
    (
        "mlserver.fraudstream_one_row_p99_ms",
        "fraudstream Score one row p99 (MLServer section)",
        _OURS,
    ),
    ("scorer.score_p99_ms", "fraudstream Score p99", _OURS),
    ("scorer.score_p50_ms", "fraudstream Score p50", _OURS),
    ("endtoend.p99_ms", "end to end p99 at offered rate", _OURS),
    ("endtoend.p50_ms", "end to end p50 at offered rate", _OURS),
)


def write_chart(report: dict[str, Any], path: Path) -> Path | None:
    """Throughput and latency bars against the baselines (log scale); None if nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = headline(report)

    def rows(panel: tuple[tuple[str, str, str], ...]) -> list[tuple[str, float, str]]:
        chosen = []
        for key, label, colour in panel:
            if key in figures:
                entry = figures[key]
                if "target" in entry:
                    sign = ">=" if entry["better"] == "higher" else "<="
                    label += f"\n(target {sign} {_number(entry['target'])})"
                chosen.append((label, float(entry["value"]), colour))
        return chosen

    throughput, latency = rows(_THROUGHPUT), rows(_LATENCY)
    if not throughput and not latency:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    _bars(axes[0], throughput, "Throughput (higher is better)", "transactions / s")
    _bars(axes[1], latency, "Latency (lower is better)", "milliseconds")
    machine = report["machine"]
    fig.suptitle(
        f"fraudstream bench {report['generated_time']} - {machine['cpus_usable']} cores, "
        f"{machine['cpu_model']}; grey: per-event scikit-learn, orange: peers (MLServer 1.7, "
        "in-process engines)",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def print_table(report: dict[str, Any]) -> None:
    """The headline figures, their baselines, ratios and targets, on stdout."""
    rows = [("figure", "value", "baseline", "ratio", "target")]
    for key, entry in headline(report).items():
        target = ""
        if "target" in entry:
            sign = ">=" if entry["better"] == "higher" else "<="
            mark = "met" if entry["target_met"] else "MISSED"
            target = f"{sign} {_number(entry['target'])} {mark}"
        rows.append(
            (
                key,
                f"{_number(entry['value'])} {entry['unit']}",
                f"{_number(entry['baseline'])}" if "baseline" in entry else "",
                f"{entry['ratio']:,.1f}x" if "ratio" in entry else "",
                target,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for i, row in enumerate(rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if i == 0:
            click.echo("  ".join("-" * width for width in widths))
    for name, section in report["sections"].items():
        if "error" in section:
            first = section["error"].splitlines()[0] if section["error"] else "?"
            click.echo(f"section {name} FAILED: {first} (details in the report)")
