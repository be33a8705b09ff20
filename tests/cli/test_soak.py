"""`fraudstream experiment soak` for one minute: the report's shape, every process sampled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

_CLI = (sys.executable, "-m", "fraudstream.cli.main")
SERVICES = {"feedback", "learner", "scorer", "ingest"}


def test_a_one_minute_soak_samples_every_process_and_judges_the_targets(
    tmp_path: Path, kafka_bootstrap: str, model_bundle: Path
):
    reports = tmp_path / "reports"
    result = subprocess.run(
        [
            *_CLI,
            "experiment",
            "soak",
            "--minutes",
            "1",
            "--rate",
            "500",
            "--sample-every",
            "5",
            "--bootstrap",
            kafka_bootstrap,
            "--models",
            str(model_bundle),
            "--input",
            str(model_bundle.parent / "paysim.csv"),
            "--workdir",
            str(tmp_path / "work"),
            "--out",
            str(reports),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"soak failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    report = json.loads((reports / "soak_report.json").read_text())
    assert (reports / "soak_report.png").stat().st_size > 0

    # A reused broker is not this run's process: the four services are what it samples.
    assert set(report["processes"]) == SERVICES
    samples = report["samples"]
    assert len(samples) >= 10 and samples[-1]["t"] >= 55
    for sample in samples:
        assert set(sample["processes"]) == SERVICES, sample["t"]
        for process in sample["processes"].values():
            assert process["rss_mib"] > 10 and process["fds"] > 3
    assert report["settings"]["replayed"] == 30_000
    assert report["events_in"] >= 30_000
    (minute,) = report["latency"]["by_minute"]
    assert minute["events"] > 20_000 and minute["p99_s"] is not None and minute["p99_s"] > 0
    # Every event read back from Kafka, each with its score: the minute's p99 to the millisecond,
    # the histogram's beside it (a bucket bound at or above the exact value's bucket).
    exact = report["latency"]["exact"]
    assert exact["events"] == 30_000 and exact["unscored"] == 0
    assert minute["events_read_back"] > 20_000 and minute["max_s"] >= minute["p99_s"]
    assert minute["p99_histogram_s"] is not None and minute["p99_histogram_s"] > 0
    if Path("/proc/pressure/io").exists():  # what the machine itself stalled, per minute
        assert minute["machine_stalled_s"]["io_full"] >= 0
    # What each process used in the minute, and what the loop did: the bridge and the scorer
    # did work at 500 tx/s; the scorer decided some alerts on PaySim rows with fraud in them.
    assert set(minute["cpu_cores"]) == SERVICES
    assert minute["cpu_cores"]["ingest"] > 0.005 and minute["cpu_cores"]["scorer"] > 0.005
    assert all(0 <= c < 2.5 for c in minute["cpu_cores"].values())
    assert minute["alerts"] > 0 and minute["promotions"] >= 0
    verdict = report["verdict"]
    for target in ("rss_growth_at_most_10pct", "open_files_flat", "p99_stable_within_20pct"):
        assert isinstance(verdict[target], bool)
    for process in report["processes"].values():
        assert process["rss_growth"] == pytest.approx(
            process["rss_mib_end"] / process["rss_mib_after_warmup"] - 1, abs=1e-3
        )
