"""The simulator writes the Kaggle layout, deterministically, with PaySim's fraud chains."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fraudstream.model.paysim import PAYSIM_HEADER
from fraudstream.training.simulate import SimulationConfig, simulate


def test_header_rows_and_determinism(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    simulate(SimulationConfig(rows=20_000, seed=3, chunk_rows=5_000), first, quiet=True)
    simulate(SimulationConfig(rows=20_000, seed=3, chunk_rows=5_000), second, quiet=True)
    simulate(SimulationConfig(rows=20_000, seed=4, chunk_rows=5_000), other, quiet=True)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    assert first.read_text().splitlines()[0] == PAYSIM_HEADER
    frame = pd.read_csv(first)
    assert len(frame) == 20_000
    assert frame["step"].is_monotonic_increasing
    assert frame["step"].between(1, 743).all()
    assert frame.loc[frame["type"] == "PAYMENT", "nameDest"].str.startswith("M").all()
    merchants = frame["nameDest"].str.startswith("M")
    assert (frame.loc[merchants, ["oldbalanceDest", "newbalanceDest"]] == 0).all().all()


def test_fraud_is_account_takeover_pairs(tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    simulate(SimulationConfig(rows=60_000, seed=5), out, quiet=True)
    frame = pd.read_csv(out)
    fraud = frame[frame["isFraud"] == 1].reset_index(drop=True)
    assert set(fraud["type"]) == {"TRANSFER", "CASH_OUT"}
    transfers = fraud[fraud["type"] == "TRANSFER"]
    assert len(transfers) == int((fraud["type"] == "CASH_OUT").sum())
    following = fraud.loc[transfers.index + 1]
    assert (following["type"].to_numpy() == "CASH_OUT").all()
    assert (following["amount"].to_numpy() == transfers["amount"].to_numpy()).all()
    assert (transfers["amount"] <= 10_000_000).all()
    assert 0.0008 < len(fraud) / len(frame) < 0.0022


def test_drift_adds_a_new_pattern_after_the_step(tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    simulate(
        SimulationConfig(rows=40_000, seed=5, drift_step=400, drift_pattern="merchant"),
        out,
        quiet=True,
    )
    frame = pd.read_csv(out)
    payments = frame[(frame["isFraud"] == 1) & (frame["type"] == "PAYMENT")]
    assert len(payments) > 0
    assert (payments["step"] >= 400).all()
    assert (payments["oldbalanceOrg"] == payments["amount"]).all()
