"""Stateful fraud patterns: requested rates, their signatures, a side file, and off by default."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudstream.model.accounts import ACCOUNT_FEATURE_NAMES, account_features_from_frame
from fraudstream.model.paysim import PAYSIM_HEADER
from fraudstream.training.patterns import (
    PATTERNS,
    REPORTING_THRESHOLD,
    SIDE_FILE_COLUMNS,
    pattern_fraud,
    patterns_path,
)
from fraudstream.training.simulate import SimulationConfig, simulate
from fraudstream.training.validate import validate

TESTDATA = Path(__file__).parents[1] / "testdata"
RATES = (("mule_fan_in", 0.004), ("takeover_burst", 0.005), ("structuring", 0.003))
ROWS = 60_000


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    out = tmp_path_factory.mktemp("patterns") / "sim.csv"
    summary = simulate(SimulationConfig(rows=ROWS, seed=11, patterns=RATES), out, quiet=True)
    frame = pd.read_csv(out)
    side = pd.read_csv(patterns_path(out))
    assert summary.pattern_rows == len(side)
    return out, frame, side


def _feature(frame: pd.DataFrame, name: str) -> np.ndarray:
    return account_features_from_frame(frame)[:, ACCOUNT_FEATURE_NAMES.index(name)]


def test_off_by_default_is_byte_identical(tmp_path: Path) -> None:
    pinned = json.loads((TESTDATA / "accounts_simulate_sha256.json").read_text())["runs"]
    for run in pinned:
        out = tmp_path / f"{run['seed']}.csv"
        config = SimulationConfig(
            rows=run["rows"], seed=run["seed"], chunk_rows=run["chunk_rows"],
            drift_step=run["drift_step"],
        )  # fmt: skip
        simulate(config, out, quiet=True)
        assert hashlib.sha256(out.read_bytes()).hexdigest() == run["sha256"]
        assert not patterns_path(out).exists()


def test_patterns_appear_at_the_requested_rates(simulated) -> None:  # type: ignore[no-untyped-def]
    out, frame, side = simulated
    assert out.read_text().splitlines()[0] == PAYSIM_HEADER
    assert tuple(side.columns) == SIDE_FILE_COLUMNS
    counts = side["pattern"].value_counts().to_dict()
    assert counts == {name: round(ROWS * rate) for name, rate in RATES}
    assert len(frame) == ROWS
    rows = frame.loc[side["row"]]
    assert (rows["isFraud"] == 1).all()
    assert (rows["step"].to_numpy() == side["step"].to_numpy()).all()
    assert (rows["nameOrig"].to_numpy() == side["nameOrig"].to_numpy()).all()
    assert (rows["nameDest"].to_numpy() == side["nameDest"].to_numpy()).all()
    assert frame["step"].is_monotonic_increasing


def test_validate_accepts_the_output(simulated) -> None:  # type: ignore[no-untyped-def]
    out, frame, _ = simulated
    report = validate(out, quiet=True)
    assert report.ok, report.errors
    assert report.frauds == int(frame["isFraud"].sum())


def test_mule_fan_in_hides_from_balances(simulated) -> None:  # type: ignore[no-untyped-def]
    _, frame, side = simulated
    mules = frame.loc[side.loc[side["pattern"] == "mule_fan_in", "row"]]
    per_mule = mules.groupby("nameDest").agg(
        senders=("nameOrig", "nunique"), first=("step", "min"), last=("step", "max")
    )
    assert (per_mule["senders"] >= 6).all()
    assert (per_mule["last"] - per_mule["first"] <= 2).all()
    assert (mules["newbalanceOrig"] > 0).all()  # no victim is emptied
    np.testing.assert_allclose(
        mules["oldbalanceOrg"] - mules["amount"], mules["newbalanceOrig"], atol=0.011
    )
    fan_in = _feature(frame, "dest_distinct_orig_24")
    assert fan_in[side.loc[side["pattern"] == "mule_fan_in", "row"]].max() >= 6
    assert np.median(fan_in[frame["isFraud"] == 0]) == 1.0


def test_takeover_burst_and_structuring_signatures(simulated) -> None:  # type: ignore[no-untyped-def]
    _, frame, side = simulated
    burst = frame.loc[side.loc[side["pattern"] == "takeover_burst", "row"]]
    per_victim = burst.groupby("nameOrig").agg(n=("amount", "size"), span=("step", np.ptp))
    assert (per_victim["n"] >= 8).all() and (per_victim["span"] <= 1).all()
    assert (burst["amount"] <= 2_500).all()
    structured = frame.loc[side.loc[side["pattern"] == "structuring", "row"]]
    assert structured["amount"].between(0.9 * REPORTING_THRESHOLD, REPORTING_THRESHOLD - 0.01).all()
    assert (structured.groupby("nameOrig").size() >= 5).all()
    counts = _feature(frame, "orig_count_24")
    assert counts[side.loc[side["pattern"] == "takeover_burst", "row"]].max() >= 8
    assert np.median(counts[frame["isFraud"] == 0]) == 1.0


def test_exact_row_counts_and_refusals(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for pattern in PATTERNS:
        for rows in (1, 7, 31):
            assert len(pattern_fraud(rng, pattern, rows, steps=5)) == rows
    with pytest.raises(ValueError, match="unknown patterns"):
        simulate(SimulationConfig(rows=10, patterns=(("ponzi", 0.1),)), tmp_path / "x.csv")
    with pytest.raises(ValueError, match="must be in"):
        simulate(SimulationConfig(rows=10, patterns=(("structuring", 1.5),)), tmp_path / "y.csv")
