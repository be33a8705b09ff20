"""`fraudstream experiment stationary`: the verdict rules, and one small run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fraudstream.cli.experiment.stationary_report import JSON_FILE, PNG_FILE, summarise, write

_CLI = (sys.executable, "-m", "fraudstream.cli.main")


def _run(error_rate: float, seed: int, online: tuple[float | None, float]) -> dict[str, Any]:
    frozen = {"precision": 0.98, "recall": 0.99}
    online_pr = {"precision": online[0], "recall": online[1]}
    return {
        "error_rate": error_rate,
        "seed": seed,
        "frozen": frozen,
        "online": online_pr,
        "online_minus_frozen_points": {
            k: None if online_pr[k] is None else round((online_pr[k] - frozen[k]) * 100, 2)
            for k in frozen
        },
        "promotions": seed - 1,
        "rollbacks": 0,
    }


def test_the_verdict_is_taken_on_the_worst_of_three_seeds(tmp_path: Path):
    runs = [
        # 3%: the third seed loses 0.3 pt of recall, beyond the 0.2 pt allowed.
        _run(0.03, 1, (0.98, 0.99)),
        _run(0.03, 2, (0.985, 0.99)),
        _run(0.03, 3, (0.98, 0.987)),
        # 10%: within 1 pt on every seed.
        _run(0.10, 1, (0.975, 0.99)),
        _run(0.10, 2, (0.971, 0.985)),
        _run(0.10, 3, (0.98, 0.995)),
        # 1%: no target; a run without alerts is the worst possible.
        _run(0.01, 1, (None, 0.0)),
    ]
    result = summarise(runs)
    by_rate = {g["error_rate"]: g for g in result["by_error_rate"]}
    assert by_rate[0.03]["verdict"] == "fails"
    assert by_rate[0.03]["promotions_by_seed"] == {"1": 0, "2": 1, "3": 2}
    assert by_rate[0.03]["worst"]["recall"] == {"points": -0.3, "seed": 3}
    assert by_rate[0.03]["worst"]["precision"] == {"points": 0.0, "seed": 1}
    assert by_rate[0.10]["verdict"] == "holds"
    assert by_rate[0.10]["worst"]["precision"] == {"points": -0.9, "seed": 2}
    assert by_rate[0.10]["mean"]["online_precision"] == round((0.975 + 0.971 + 0.98) / 3, 4)
    assert by_rate[0.01]["verdict"] == "no target at this rate"
    assert by_rate[0.01]["worst"]["precision"] == {"points": None, "seed": 1}

    two_seeds = summarise(runs[:2])["by_error_rate"][0]
    assert two_seeds["verdict"].startswith("not judged")

    json_path, png_path = write(result, tmp_path)
    assert json.loads(json_path.read_text())["by_error_rate"][1]["error_rate"] == 0.03
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.integration
def test_a_small_run_measures_frozen_and_online_on_the_same_events(tmp_path: Path):
    rows = 20_000
    result = subprocess.run(
        [
            *_CLI,
            "experiment",
            "stationary",
            "--rows",
            str(rows),
            "--train-rows",
            "50000",
            "--error-rates",
            "0.03",
            "--seeds",
            "1",
            "--analyst-delay",
            "0",
            "--workdir",
            str(tmp_path / "work"),
            "--out",
            str(tmp_path / "reports"),
        ],
        capture_output=True,
        text=True,
        timeout=170,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    assert "run 1/1: 3% wrong verdicts, replay seed 8" in result.stdout
    report = json.loads((tmp_path / "reports" / JSON_FILE).read_text())
    assert (tmp_path / "reports" / PNG_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    (run,) = report["runs"]
    assert run["error_rate"] == 0.03 and run["seed"] == 8 and run["complete"]
    # Both sides judged on every replayed event, with the same frauds among them.
    assert run["events"] == run["frozen"]["transactions"] == run["online"]["transactions"] == rows
    assert run["frozen"]["frauds"] == run["online"]["frauds"] == run["frauds"] > 0
    # Where the scorer served the bundle's own model, the offline scoring decided alike.
    bundle = run["bundle_served"]
    assert bundle["events"] > 0 and bundle["same_decision"] == bundle["events"]
    assert run["labels"] > 0 and set(run["judgements"]) == {"promote", "refuse", "wait"}
    for side in ("frozen", "online"):
        assert 0 < run[side]["recall"] <= 1 and 0 < run[side]["precision"] <= 1

    (group,) = report["by_error_rate"]
    assert group["seeds"] == [8] and group["target_max_loss_points"] == 0.2
    assert group["verdict"].startswith("not judged")  # one seed: the target needs three
    assert report["settings"]["replay_seeds"] == [8]
