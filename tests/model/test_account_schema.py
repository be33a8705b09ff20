"""Feature schemas: chunked account features, the two schemas, fail-closed account values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudstream.model.accounts import (
    ACCOUNT_FEATURE_NAMES,
    AccountState,
    ChunkedAccountFeatures,
    account_features_from_frame,
)
from fraudstream.model.features import FEATURE_NAMES, FEATURE_SCHEMA_HASH
from fraudstream.model.schema import (
    ACCOUNT_FIELD,
    ACCOUNT_SCHEMA,
    TRANSACTION_SCHEMA,
    account_values,
    schema_of,
)
from fraudstream.model.validity import unlearnable_input, unscorable_rows
from fraudstream.v1.transaction_pb2 import Transaction

TESTDATA = Path(__file__).parents[1] / "testdata"


def _stream(rows: int, seed: int) -> pd.DataFrame:
    """Events over 60 steps between few accounts (long histories), some steps out of order."""
    rng = np.random.default_rng(seed)
    steps = np.sort(rng.integers(1, 60, rows))
    late = rng.random(rows) < 0.02
    steps[late] = np.maximum(steps[late] - rng.integers(1, 30, int(late.sum())), 1)
    return pd.DataFrame(
        {
            "step": steps,
            "nameOrig": [f"C{i}" for i in rng.integers(0, 40, rows)],
            "nameDest": [f"C{i}" for i in rng.integers(20, 70, rows)],
            "amount": np.round(rng.lognormal(6, 2, rows), 2),
        }
    )


@pytest.mark.parametrize("chunk", [1, 7, 250, 5000])
def test_chunked_equals_the_whole_stream(chunk: int) -> None:
    frame = _stream(3000, seed=chunk)
    whole = account_features_from_frame(frame)
    stream = ChunkedAccountFeatures()
    parts = [stream.update_frame(frame.iloc[i : i + chunk]) for i in range(0, len(frame), chunk)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_chunked_equals_the_hand_worked_stream() -> None:
    frame = pd.read_csv(TESTDATA / "accounts_events.csv", dtype={"nameOrig": str, "nameDest": str})
    stream = ChunkedAccountFeatures()
    parts = [stream.update_frame(frame.iloc[i : i + 2]) for i in range(0, len(frame), 2)]
    np.testing.assert_array_equal(np.concatenate(parts), account_features_from_frame(frame))


def test_the_transaction_schema_keeps_the_hash_bundles_carry() -> None:
    assert TRANSACTION_SCHEMA.hash == FEATURE_SCHEMA_HASH
    assert TRANSACTION_SCHEMA.names == FEATURE_NAMES and not TRANSACTION_SCHEMA.account_features
    assert ACCOUNT_SCHEMA.names == (*FEATURE_NAMES, *ACCOUNT_FEATURE_NAMES)
    assert ACCOUNT_SCHEMA.account_features and ACCOUNT_SCHEMA.hash != FEATURE_SCHEMA_HASH
    assert schema_of(ACCOUNT_SCHEMA.hash) is ACCOUNT_SCHEMA
    with pytest.raises(ValueError, match="not one this code computes"):
        schema_of("0" * 64)


def _transactions(values: list[list[float]]) -> list[Transaction]:
    return [Transaction(event_id=f"e{i}", account_features=v) for i, v in enumerate(values)]


def test_account_values_refuse_what_no_path_computes() -> None:
    state = AccountState()
    good = state.update(3, "C1", "C2", 120.0).tolist()
    assert len(good) == len(ACCOUNT_FEATURE_NAMES)
    count = ACCOUNT_FEATURE_NAMES.index("orig_count_1")
    since = ACCOUNT_FEATURE_NAMES.index("orig_steps_since_last")
    zero_count, far_gap, nan = list(good), list(good), list(good)
    zero_count[count] = 0.0
    far_gap[since] = 26.0  # the sentinel of a 24-step window is 25
    nan[3] = math.nan
    values, problems = account_values(
        _transactions([good, [], good[:5], zero_count, far_gap, nan, [*good[:-1], math.inf]])
    )
    np.testing.assert_array_equal(values[0], good)
    assert set(problems) == {1, 2, 3, 4, 5, 6}
    assert all(field == ACCOUNT_FIELD for field, _ in problems.values())
    assert "got 0" in problems[1][1] and "got 5" in problems[2][1]
    assert "orig_count_1" in problems[3][1]
    assert "orig_steps_since_last" in problems[4][1]


def test_validity_knows_the_account_features() -> None:
    row = np.zeros((1, ACCOUNT_SCHEMA.width))
    row[0, len(FEATURE_NAMES) :] = AccountState().update(1, "A", "B", 10.0)
    assert unscorable_rows(row, ACCOUNT_SCHEMA.names) == {}
    # A count of 5,000 is out of range for a transaction feature, not for an account count.
    row[0, ACCOUNT_SCHEMA.names.index("dest_count_24")] = 5000.0
    assert unscorable_rows(row, ACCOUNT_SCHEMA.names) == {}
    row[0, ACCOUNT_SCHEMA.names.index("dest_count_1")] = 0.5
    assert "dest_count_1" in unscorable_rows(row, ACCOUNT_SCHEMA.names)[0][1]
    names = (*ACCOUNT_SCHEMA.names, "autoencoder_score")
    learnable = [*AccountState().update(1, "A", "B", 10.0).tolist(), 0.5]
    assert unlearnable_input([0.0] * len(FEATURE_NAMES) + learnable, names) is None
    learnable[0] = -1.0
    assert unlearnable_input([0.0] * len(FEATURE_NAMES) + learnable, names) == "out_of_range"
