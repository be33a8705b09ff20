"""A 100k-row simulated replay: offline and embedded account features agree on every value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudstream.model.accounts import (
    ACCOUNT_FEATURE_NAMES,
    AccountState,
    account_features_from_frame,
)
from fraudstream.training.simulate import SimulationConfig, simulate

PATTERNS = (("mule_fan_in", 0.003), ("takeover_burst", 0.003), ("structuring", 0.002))


def _replay(tmp_path: Path) -> pd.DataFrame:
    out = tmp_path / "replay.csv"
    simulate(SimulationConfig(rows=100_000, seed=21, patterns=PATTERNS), out, quiet=True)
    frame = pd.read_csv(out, dtype={"nameOrig": str, "nameDest": str})
    # PaySim names are nearly all fresh; a pool of regulars gives the windows real histories.
    rng = np.random.default_rng(21)
    legit = (frame["isFraud"] == 0).to_numpy()
    pool = np.asarray([f"C{900_000 + i}" for i in range(4_000)], dtype=object)
    regulars = legit & (rng.random(len(frame)) < 0.5)
    frame.loc[regulars, "nameOrig"] = pool[rng.zipf(1.5, int(regulars.sum())) % len(pool)]
    regulars = legit & (rng.random(len(frame)) < 0.5)
    frame.loc[regulars, "nameDest"] = pool[rng.zipf(1.3, int(regulars.sum())) % len(pool)]
    return frame


@pytest.mark.slow
def test_offline_equals_embedded_on_a_simulated_replay(tmp_path: Path) -> None:
    frame = _replay(tmp_path)
    offline = account_features_from_frame(frame)
    assert np.isfinite(offline).all()
    state = AccountState()
    parts = []
    for start in range(0, len(frame), 7_919):  # micro-batches that split steps anywhere
        part = frame.iloc[start : start + 7_919]
        if start == 7_919 * 6:
            state = AccountState.restore(state.snapshot())  # a restart halfway through
        parts.append(
            state.update_batch(
                part["step"].to_numpy(),
                part["nameOrig"].tolist(),
                part["nameDest"].tolist(),
                part["amount"].to_numpy(),
            )
        )
    embedded = np.vstack(parts)
    np.testing.assert_allclose(embedded, offline, rtol=0, atol=1e-9)
    assert state.counters.evictions == 0 and state.counters.events == len(frame)
    # The replay exercises the windows: busy accounts, repeat counterparties, fan-in.
    column = {name: offline[:, i] for i, name in enumerate(ACCOUNT_FEATURE_NAMES)}
    assert column["orig_count_24"].max() > 20 and column["dest_distinct_orig_24"].max() >= 6
    assert (column["orig_steps_since_last"] < 25).mean() > 0.1
