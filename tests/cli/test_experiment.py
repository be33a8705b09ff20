"""The drift experiment's analysis on a hand-made run (no processes): recall, labels, plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from fraudstream.cli.experiment.loop import snapshot_positions
from fraudstream.cli.experiment.report import analyse, combine, new_pattern, write
from fraudstream.v1 import model_pb2

DRIFT = 10


def _frame() -> pd.DataFrame:
    """40 rows: 10 legit before the drift, then 30 structuring frauds, all in step order."""
    rows = [("PAYMENT", 50.0, 0, step) for step in range(5, 10)] * 2
    rows += [("TRANSFER", 9_000.0, 1, DRIFT + i) for i in range(30)]
    return pd.DataFrame(rows, columns=["type", "amount", "isFraud", "step"])


def test_recall_over_time_and_labels_to_reach_the_target(tmp_path: Path):
    frame = _frame()
    target = np.flatnonzero(new_pattern(frame, DRIFT))
    assert target.tolist() == list(range(10, 40))
    # Snapshot 0 misses the first 10 frauds; snapshot 1 (12 of them learned) catches the rest.
    decisions = np.full(len(frame), 1, dtype=np.int8)
    decisions[20:] = 3
    versions = ["b+s0"] * 20 + ["b+s1"] * 20
    labels = {position: f"run-{row}" for position, row in enumerate(range(10, 22), start=1)}
    labels[13] = "run-2"  # a legit label does not count as a new-pattern one
    outcome = {
        "decisions": decisions,
        "versions": versions,
        "position_of": {0: 0, 1: 13},
        "reported": 10,
    }
    frozen = np.zeros(len(frame), dtype=bool)
    metrics = {
        "learner_label_to_served_seconds_bucket": [({"le": "0.1"}, 3.0), ({"le": "+Inf"}, 4.0)],
        "learner_label_to_served_seconds_count": [({}, 4.0)],
        "learner_promotions_total": [({}, 1.0)],
    }

    result = analyse(frame, DRIFT, frozen, "run", outcome, labels, metrics)

    assert result["new_pattern"]["rows"] == 30
    assert result["new_pattern"]["online_recall"] == round(20 / 30, 4)
    assert result["new_pattern"]["frozen_recall"] == 0.0
    assert result["labels_to_recall"]["new_pattern_labels"] == 12
    assert result["labels_to_recall"]["new_pattern_labels_total"] == 12
    assert [w["online_recall"] for w in result["over_time"]][:3] == [0.0, 0.0, 0.0]
    assert result["over_time"][-1]["new_pattern_labels_learned"] == 12
    assert result["label_to_served_seconds"]["count"] == 4 and result["promotions"] == 1
    assert result["labels_to_recall"]["first_promoted_new_pattern_labels"] == 12
    # Every row scored: 30 frauds, the online loop alerted on the last 20 (all fraud).
    assert result["all_traffic"]["online"] == {"alerts": 20, "precision": 1.0, "recall": 0.6667}
    assert result["all_traffic"]["frozen"] == {"alerts": 0, "precision": None, "recall": 0.0}

    combined = combine([result, {**result, "labels_to_recall": {"new_pattern_labels": 30}}])
    assert combined["worst"]["new_pattern_labels_to_recall"] == 30
    assert combined["checks"]["recall_within_labels"] and combined["verdict"] == "holds"
    assert combine([{**result, "labels_to_recall": {"new_pattern_labels": None}}])["verdict"] == (
        "missed"
    )
    json_path, png_path = write(combined, tmp_path)
    assert json.loads(json_path.read_text())["runs"][0]["new_pattern"]["rows"] == 30
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_learned_positions_come_from_the_saved_snapshots(tmp_path: Path):
    """What a served snapshot learned is its own label_position, not the learner's position
    when the run first saw the version (the end of the batch it was promoted in)."""
    snapshots = tmp_path / "learner" / "bundle-1" / "snapshots"
    snapshots.mkdir(parents=True)
    for version, position in ((1, 39), (2, 78)):
        snapshot = model_pb2.ModelSnapshot(version=version, label_position=position)
        (snapshots / f"v{version:08d}.binpb").write_bytes(snapshot.SerializeToString())
    assert snapshot_positions(tmp_path) == {1: 39, 2: 78}
    assert snapshot_positions(tmp_path / "nothing") == {}
