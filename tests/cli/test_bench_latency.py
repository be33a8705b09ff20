"""`fraudstream bench --sections latency`: Score latency alone, against one scorer process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fraudstream.cli.bench import SECTIONS, _sections

_CLI = (sys.executable, "-m", "fraudstream.cli.main")


def test_the_latency_section_runs_only_when_named():
    assert "latency" not in SECTIONS
    assert _sections("latency") == ["latency"]
    assert _sections("latency,scorer") == ["scorer", "latency"]


@pytest.mark.integration
def test_latency_section_times_score_calls_alone(model_bundle: Path, tmp_path: Path):
    output = tmp_path / "reports" / "benchmark_report.json"
    result = subprocess.run(
        [*_CLI, "bench", "--quick", "--sections", "latency", "--models", str(model_bundle),
         "--output", str(output), "--workdir", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(output.read_text())
    assert list(report["sections"]) == ["latency"]
    section = report["sections"]["latency"]
    assert section["forest_engine_settled"] is True
    assert section["score_unary"]["latency"]["samples"] == 300
    assert section["scorer_cpu_us_per_call"] > 0
    figures = report["figures"]
    assert set(figures) == {"latency.score_p50_ms", "latency.score_p99_ms"}
    assert 0 < figures["latency.score_p50_ms"]["value"] <= figures["latency.score_p99_ms"]["value"]
    assert figures["latency.score_p99_ms"]["target"] == 1.0
    assert "latency.score_p99_ms" in result.stdout
