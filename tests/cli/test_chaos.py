"""`fraudstream experiment chaos` on a small run: kill -9 the scorer and the bridge mid-replay."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fraudstream.cli.experiment.chaos_report import analyse
from fraudstream.cli.experiment.chaos_run import FaultRecord
from fraudstream.cli.experiment.observe import ScoredLog

_CLI = (sys.executable, "-m", "fraudstream.cli.main")
BEGAN = 1_000.0


def _outcome(first_s: np.ndarray, faults: list[FaultRecord], **extra) -> dict:
    """A run as ChaosRun returns it, from first-copy times (0: unscored) and kills."""
    scored = ScoredLog("127.0.0.1:9", "r", len(first_s))  # never started: no broker needed
    scored.first_ms[:] = (first_s * 1000).astype(np.int64)
    scored.copies[:] = first_s > 0
    outcome = {
        "run_id": "r",
        "began": BEGAN,
        "replayed": len(first_s),
        "replay_error": None,
        "scored": scored,
        "faults": faults,
        "skipped": [],
        "learner_history": [],
        "learner_went_back": [],
        "learner_final": {"label_position": 2, "labels_seen": 2},
        "acked": [("r-1", 1), ("r-2", 2)],
        "stored_alerts": {"r-1": 1, "r-2": 1},
        "alert_copies": {"r-1": 2, "r-2": 1},
        "labels": [(1, "r-1"), (2, "r-2")],
        "feedback_log_position": 2,
        "startup_seconds": {},
    }
    return outcome | extra


def test_recovery_is_the_end_of_the_last_stop_after_a_kill_not_a_straggler():
    # 10 scores/s from t=0 to 60 s; the scorer is killed at 10 s, scoring stops, one
    # straggler of an in-flight batch lands at 10.5 s, scoring resumes at 18 s. The learner
    # is killed at 30 s and scoring never stops. The last row is never scored.
    times = np.arange(0.0, 60.0, 0.1)
    times = times[(times < 10) | (times >= 18)]
    first = np.concatenate((np.sort(np.append(times, 10.5)), [0.0])) + BEGAN
    first[-1] = 0.0
    faults = [
        FaultRecord("scorer", 1, BEGAN + 10, BEGAN + 10.01, BEGAN + 17, 7, BEGAN + 10.01),
        FaultRecord("learner", 2, BEGAN + 30, BEGAN + 30.01, BEGAN + 36, 6, BEGAN + 30.01),
    ]
    report = analyse(_outcome(first, faults), {"rate": 10})
    scorer, learner = report["faults"]
    assert scorer["scoring_stopped"] and scorer["recovery_s"] == pytest.approx(8.0, abs=0.05)
    assert scorer["first_score_after_restart_s"] == pytest.approx(0.5, abs=0.05)
    assert scorer["longest_scoring_gap_s"] == pytest.approx(7.5, abs=0.05)
    assert not learner["scoring_stopped"] and learner["recovery_s"] == 0.0
    assert report["by_fault"]["scorer"]["recovery_s_p99"] == pytest.approx(8.0, abs=0.05)
    targets = report["targets"]
    assert not targets["zero_events_lost"] and report["events"]["lost"] == 1
    assert targets["recovery_p99_at_most_5_s_except_broker"]["scorer"]["met"] is False
    assert targets["recovery_p99_at_most_5_s_except_broker"]["learner"]["met"] is True
    assert report["alerts"]["duplicated_on_topic"] == 1
    assert report["alerts"]["duplicated_in_store"] == 0 and targets["zero_labels_lost"]


def test_an_acked_label_missing_from_the_log_is_lost_and_a_second_learning_shows():
    first = np.arange(1.0, 11.0) + BEGAN
    outcome = _outcome(
        first,
        [],
        labels=[(1, "r-1")],
        feedback_log_position=1,
        learner_final={"label_position": 1, "labels_seen": 2},
    )
    labels = analyse(outcome, {"rate": 1})["labels"]
    assert labels["lost"] == 1 and labels["lost_examples"] == ["r-2"]
    assert not labels["learned_exactly_once"]


@pytest.mark.integration
def test_killing_the_scorer_and_the_bridge_mid_replay_loses_nothing(
    tmp_path: Path, kafka_bootstrap: str, model_bundle: Path
):
    reports = tmp_path / "reports"
    began = time.monotonic()
    # 500 tx/s for 20 s: the replay still runs when the bridge is killed, after the scorer's
    # recovery (about 10 s on a busy machine).
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
        # 0 is a real outcome: scoring never paused 1 s or more (a fast hand-over).
        assert fault["recovery_s"] is not None and 0 <= fault["recovery_s"] < 60, fault
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
