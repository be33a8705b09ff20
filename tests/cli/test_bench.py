"""`fraudstream bench --quick` with the scorer and end-to-end sections: report shape and figures.

The MLServer section is left out here: it needs a pip install from PyPI on first use (a few
minutes), which CI should not depend on; `fraudstream bench` runs it by default.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_CLI = (sys.executable, "-m", "fraudstream.cli.main")
_FIGURES = {
    "scorer.stream_tx_per_s",
    "scorer.stream_2_scorers_tx_per_s",
    "scorer.stream_served_tx_per_s",
    "scorer.stream_vs_baseline_ratio",
    "scorer.score_p50_ms",
    "scorer.score_p99_ms",
    "scorer.baseline_tx_per_s",
    "scorer.baseline_p99_ms",
    "endtoend.tx_per_s",
    "endtoend.drain_2x2_tx_per_s",
    "endtoend.live_replay_tx_per_s",
    "endtoend.p50_ms",
    "endtoend.p99_ms",
}


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _running_under(workdir: Path) -> list[str]:
    """Processes whose command line or working directory lies in `workdir`."""
    found, root = [], str(workdir.resolve())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if root in cmdline or cwd.startswith(root):
            found.append(f"{proc.name}: {cmdline}")
    return found


@pytest.fixture(scope="module")
def bench_run(model_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One quick bench run (scorer + end to end) on the session's bundle."""
    base = tmp_path_factory.mktemp("bench")
    output, workdir = base / "reports" / "benchmark_report.json", base / "work"
    result = subprocess.run(
        [*_CLI, "bench", "--quick", "--sections", "scorer,endtoend", "--no-mlserver",
         "--models", str(model_bundle), "--output", str(output), "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=400,
    )  # fmt: skip
    # A missed target is a figure, not a failure: the bench exits 0 unless a section broke.
    assert result.returncode == 0, (
        f"bench failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    )
    return {
        "report": json.loads(output.read_text()),
        "png": output.with_suffix(".png"),
        "stdout": result.stdout,
        "stderr": result.stderr,
        "workdir": workdir,
    }


def test_report_has_machine_facts_and_the_sections_asked_for(bench_run):
    report = bench_run["report"]
    assert report["quick"] is True
    assert report["sections_requested"] == ["scorer", "endtoend"]
    assert set(report["sections"]) == {"scorer", "endtoend"}
    assert not [name for name, s in report["sections"].items() if "error" in s]
    machine = report["machine"]
    assert machine["cpu_count"] >= 1 and machine["cpu_model"]
    assert machine["packages"]["scikit-learn"] and machine["packages"]["numpy"]
    assert len(machine["load_average_before"]) == 3 and len(machine["load_average_after"]) == 3


def test_every_figure_is_a_positive_number_with_its_baseline_and_target(bench_run):
    figures = bench_run["report"]["figures"]
    assert set(figures) == _FIGURES
    for key, entry in figures.items():
        assert _positive(entry["value"]), key
        assert entry["unit"] and entry["what"], key
        if "baseline" in entry:
            assert _positive(entry["baseline"]) and _positive(entry["ratio"]), key
        if "target" in entry:
            assert isinstance(entry["target_met"], bool), key
    for key in ("scorer.stream_served_tx_per_s", "scorer.score_p99_ms", "endtoend.tx_per_s",
                "endtoend.p99_ms", "scorer.stream_vs_baseline_ratio"):  # fmt: skip
        assert "target" in figures[key], key


def test_ratios_come_from_this_runs_measurements(bench_run):
    report = bench_run["report"]
    figures, scorer = report["figures"], report["sections"]["scorer"]
    stream = scorer["stream_scores"]["tx_per_s"]
    baseline = scorer["baseline_per_event_sklearn"]["tx_per_s"]
    assert figures["scorer.stream_tx_per_s"]["value"] == stream
    assert figures["scorer.stream_tx_per_s"]["baseline"] == baseline
    assert figures["scorer.stream_tx_per_s"]["ratio"] == pytest.approx(stream / baseline)
    assert figures["scorer.stream_vs_baseline_ratio"]["value"] == pytest.approx(stream / baseline)
    p99 = scorer["score_unary"]["latency"]["p99_ms"]
    base_p99 = scorer["baseline_per_event_sklearn"]["latency"]["p99_ms"]
    assert figures["scorer.score_p99_ms"]["ratio"] == pytest.approx(base_p99 / p99)
    scaled = figures["scorer.stream_2_scorers_tx_per_s"]
    assert scaled["value"] == scorer["stream_scores_all_scorers"]["tx_per_s"]
    assert scaled["baseline"] == stream
    assert scorer["stream_scores_all_scorers"]["scorers"] == 2
    # Every trial streamed whole batches and the scorer answered every item.
    assert scorer["stream_scores"]["item_errors"] == 0
    assert all(t["transactions"] > 0 for t in scorer["stream_scores"]["trials"])
    # Served risks are the per-event scikit-learn risks (same models, same features).
    assert scorer["agreement"]["events_compared"] > 0
    assert scorer["agreement"]["max_abs_risk_difference"] < 1e-6


def test_end_to_end_saw_every_event_and_measured_latency_per_event(bench_run):
    endtoend = bench_run["report"]["sections"]["endtoend"]
    sizes = bench_run["report"]["sizes"]
    assert endtoend["live_replay"]["events"] == sizes["endtoend_throughput_events"]
    assert endtoend["backlog_drain"]["events"] == sizes["endtoend_throughput_events"]
    figures = bench_run["report"]["figures"]
    assert figures["endtoend.tx_per_s"]["value"] == endtoend["backlog_drain"]["tx_per_s"]
    assert figures["endtoend.live_replay_tx_per_s"]["value"] == endtoend["live_replay"]["tx_per_s"]
    latency = endtoend["latency_at_offered_rate"]
    assert latency["events"] == sizes["endtoend_latency_events"]
    assert latency["latency"]["p50_ms"] <= latency["latency"]["p99_ms"]
    assert _positive(latency["achieved_offered_rate"])


def test_chart_table_and_nothing_left_running(bench_run):
    assert bench_run["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "scorer.stream_tx_per_s" in bench_run["stdout"]
    assert "[bench" in bench_run["stderr"]  # progress lines go to stderr
    assert _running_under(bench_run["workdir"]) == []
