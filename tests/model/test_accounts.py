"""Account features: the hand-worked stream, offline == embedded, bounded state, snapshots."""

from __future__ import annotations

import gc
import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudstream.model.accounts import (
    ACCOUNT_FEATURE_NAMES,
    ACCOUNT_FEATURES,
    AccountDefinition,
    AccountFeature,
    AccountState,
    account_features_from_frame,
    compute_account_features,
)
from fraudstream.model.accounts.codec import MAGIC

TESTDATA = Path(__file__).parents[1] / "testdata"


def _events() -> pd.DataFrame:
    return pd.read_csv(TESTDATA / "accounts_events.csv", dtype={"nameOrig": str, "nameDest": str})


def _expected() -> np.ndarray:
    features = json.loads((TESTDATA / "accounts_expected.json").read_text())["features"]
    assert sorted(features) == sorted(ACCOUNT_FEATURE_NAMES)
    return np.column_stack([features[name] for name in ACCOUNT_FEATURE_NAMES])


def _embedded(frame: pd.DataFrame, state: AccountState | None = None) -> np.ndarray:
    state = AccountState() if state is None else state
    rows = [state.update(r.step, r.nameOrig, r.nameDest, r.amount) for r in frame.itertuples()]
    return np.vstack(rows)


def _stream(rows: int, accounts: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pool = np.asarray([f"C{i}" for i in range(accounts)], dtype=object)
    steps = np.sort(rng.integers(1, 120, rows))
    late = rng.random(rows) < 0.01  # a few events arrive after later steps
    steps[late] = np.maximum(steps[late] - rng.integers(1, 4, int(late.sum())), 1)
    return pd.DataFrame(
        {
            "step": steps,
            "nameOrig": pool[rng.zipf(1.6, rows) % accounts],
            "nameDest": pool[rng.zipf(1.4, rows) % accounts],
            "amount": np.round(rng.lognormal(7.0, 2.0, rows), 2),
        }
    )


def test_hand_worked_stream_offline_and_embedded() -> None:
    frame, expected = _events(), _expected()
    np.testing.assert_allclose(account_features_from_frame(frame), expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(_embedded(frame), expected, rtol=0, atol=1e-9)


def test_the_wrong_answer_is_caught() -> None:
    # The reference is not whatever the code says: one changed amount changes the features.
    frame = _events()
    frame.loc[3, "amount"] = 21.0
    assert np.abs(account_features_from_frame(frame) - _expected()).max() > 1e-3


def test_micro_batches_and_single_events_agree() -> None:
    frame = _stream(3_000, 200, seed=1)
    state = AccountState()
    batches = [
        state.update_batch(
            part["step"].to_numpy(),
            part["nameOrig"].tolist(),
            part["nameDest"].tolist(),
            part["amount"].to_numpy(),
        )
        for part in (frame.iloc[i : i + 450] for i in range(0, len(frame), 450))
    ]
    offline = account_features_from_frame(frame)
    np.testing.assert_allclose(np.vstack(batches), offline, rtol=0, atol=1e-9)
    np.testing.assert_allclose(_embedded(frame), offline, rtol=0, atol=1e-9)
    assert np.isfinite(offline).all()
    assert state.counters.late_events > 0


def test_snapshot_restore_equals_one_pass() -> None:
    frame = _stream(4_000, 300, seed=2)
    whole = _embedded(frame)
    first = AccountState()
    head = _embedded(frame.iloc[:2_000], first)
    blob = first.snapshot()
    assert blob.startswith(MAGIC)
    restored = AccountState.restore(blob)
    assert restored.clock == first.clock and restored.counters == first.counters
    assert restored.snapshot() == blob
    tail = _embedded(frame.iloc[2_000:], restored)
    np.testing.assert_allclose(np.vstack([head, tail]), whole, rtol=0, atol=0)
    assert restored.counters.events == len(frame)


def test_idle_accounts_expire_without_changing_features() -> None:
    state = AccountState()
    state.update(1, "A", "X", 10.0)
    state.update(1 + ACCOUNT_FEATURES.horizon, "B", "Y", 10.0)
    assert len(state) == 4  # A's last step is exactly at the horizon's edge
    state.update(2 + ACCOUNT_FEATURES.horizon, "C", "Z", 10.0)
    assert len(state) == 4 and state.counters.expired == 2
    assert state.counters.evictions == 0


def test_cap_evicts_the_least_recently_seen_and_counts() -> None:
    state = AccountState(max_accounts=2)
    state.update(1, "A", "X", 10.0)
    state.update(1, "B", "Y", 10.0)
    state.update(1, "A", "X", 10.0)  # A and X are now the most recent
    state.update(1, "C", "Z", 10.0)  # evicts B and Y
    assert state.counters.evictions == 2
    again = state.update(1, "B", "Y", 10.0)  # B starts afresh: a first event again
    assert again[ACCOUNT_FEATURE_NAMES.index("orig_count_24")] == 1.0
    kept = state.update(1, "A", "W", 10.0)
    assert kept[ACCOUNT_FEATURE_NAMES.index("orig_count_24")] == 1.0  # A was evicted by B


def test_restore_refuses_foreign_and_broken_snapshots() -> None:
    state = AccountState()
    state.update(1, "A", "X", 10.0)
    blob = state.snapshot()
    other = AccountDefinition((AccountFeature("orig_count_2", "name_orig", "count", 2),))
    with pytest.raises(ValueError, match="another feature definition"):
        AccountState.restore(blob, other)
    with pytest.raises(ValueError, match="magic"):
        AccountState.restore(b"\x80\x04pickle")
    with pytest.raises(ValueError, match=r"corrupt|truncated"):
        AccountState.restore(blob[:-5])
    body = json.loads(zlib.decompress(blob[len(MAGIC) :]))
    body["roles"]["name_orig"]["sizes"] = [2]
    tampered = MAGIC + zlib.compress(json.dumps(body).encode())
    with pytest.raises(ValueError, match="do not add up"):
        AccountState.restore(tampered)


def test_definition_is_checked_and_sentinels_are_fixed() -> None:
    with pytest.raises(ValueError, match="unique"):
        AccountDefinition((ACCOUNT_FEATURES.features[0], ACCOUNT_FEATURES.features[0]))
    with pytest.raises(ValueError, match="aggregate"):
        AccountDefinition((AccountFeature("x", "name_orig", "median", 1),))  # type: ignore[arg-type]
    first = compute_account_features([5], ["A"], ["X"], [10.0])[0]
    for feature, value in zip(ACCOUNT_FEATURES.features, first, strict=True):
        if feature.aggregate in ("since_last", "amount_vs_history"):
            assert value == feature.sentinel
    assert ACCOUNT_FEATURES.horizon == 24


def test_extreme_amounts_stay_finite() -> None:
    frame = pd.DataFrame(
        {
            "step": [1, 1, 1, 2],
            "nameOrig": ["A", "A", "A", "A"],
            "nameDest": ["X", "X", "Y", "X"],
            "amount": [0.0, 0.0, 9.2e13, 0.0],
        }
    )
    offline = account_features_from_frame(frame)
    assert np.isfinite(offline).all()
    np.testing.assert_allclose(_embedded(frame), offline, rtol=0, atol=1e-9)


def test_a_batch_leaves_the_cycle_collector_as_it_found_it() -> None:
    state = AccountState()
    assert gc.isenabled()
    state.update_batch([1], ["A"], ["X"], [1.0])
    assert gc.isenabled()
    gc.disable()
    try:
        state.update_batch([1], ["A"], ["X"], [1.0])
        assert not gc.isenabled()
    finally:
        gc.enable()
