"""`fraudstream experiment chaos` on a small run: kill -9 the scorer and the bridge mid-replay."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

_CLI = (sys.executable, "-m", "fraudstream.cli.main")


def test_killing_the_scorer_and_the_bridge_mid_replay_loses_nothing(
    tmp_path: Path, kafka_bootstrap: str, model_bundle: Path
):
    reports = tmp_path / "reports"
    began = time.monotonic()
    # 500 tx/s for 20 s: the replay still runs when the bridge is killed, after the scorer's
    # recovery. The bridge's restart waits for the group to drop the killed member (~45 s).
    result = subprocess.run(
        [
            *_CLI,
            "experiment",
            "chaos",
            "--events",
            "10000",
            "--rate",
            "500",
            "--faults",
            "scorer,ingest",
            "--warmup",
            "3",
            "--settle",
            "2",
            "--analyst-delay",
            "0",
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
        timeout=180,
    )
    seconds = time.monotonic() - began
    assert result.returncode == 0, (
        f"chaos failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    )
    assert "kill -9 scorer" in result.stdout and "kill -9 ingest" in result.stdout
    report = json.loads((reports / "chaos_report.json").read_text())
    assert (reports / "chaos_report.png").stat().st_size > 0

    assert [f["kind"] for f in report["faults"]] == ["scorer", "ingest"], report["skipped_faults"]
    for fault in report["faults"]:
        assert fault["recovery_s"] is not None and fault["recovery_s"] > 0, fault
        assert fault["restart_to_serving_s"] > 0
    events = report["events"]
    assert events["replayed"] == 10_000 and events["scored"] == 10_000
    assert events["lost"] == 0
    assert report["alerts"]["stored"] > 0 and report["alerts"]["duplicated_in_store"] == 0
    labels = report["labels"]
    assert labels["acked"] > 0 and labels["lost"] == 0, labels
    assert labels["log_positions_twice"] == 0 and labels["learned_exactly_once"], labels
    assert report["learner"]["version_went_back"] == []
    assert report["targets"]["zero_events_lost"] and report["targets"]["zero_labels_lost"]
    assert seconds < 180
