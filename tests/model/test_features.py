"""The feature vector is the same from CSV rows, a DataFrame and protobuf Transactions."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudstream.model.columns import transaction_error
from fraudstream.model.features import (
    FEATURE_NAMES,
    FEATURE_SCHEMA_HASH,
    compute_features,
    features_from_frame,
    features_from_rows,
    features_from_transactions,
)
from fraudstream.model.paysim import TRANSACTION_TYPES, TYPE_CODES
from fraudstream.v1 import transaction_pb2

SAMPLE = Path(__file__).parents[1] / "testdata" / "paysim_sample.csv"


def _transactions(frame: pd.DataFrame) -> list[transaction_pb2.Transaction]:
    return [
        transaction_pb2.Transaction(
            event_id=f"e{i}",
            step=int(row.step),
            type=TYPE_CODES[row.type],
            amount=row.amount,
            name_orig=row.nameOrig,
            old_balance_orig=row.oldbalanceOrg,
            new_balance_orig=row.newbalanceOrig,
            name_dest=row.nameDest,
            old_balance_dest=row.oldbalanceDest,
            new_balance_dest=row.newbalanceDest,
        )
        for i, row in enumerate(frame.itertuples())
    ]


def test_three_sources_give_identical_vectors() -> None:
    frame = pd.read_csv(SAMPLE)
    with SAMPLE.open(newline="") as source:
        from_rows = features_from_rows(csv.DictReader(source))
    from_frame = features_from_frame(frame)
    from_protos = features_from_transactions(_transactions(frame))
    assert from_frame.shape == (len(frame), len(FEATURE_NAMES))
    np.testing.assert_array_equal(from_rows, from_frame)
    np.testing.assert_array_equal(from_protos, from_frame)
    assert np.isfinite(from_frame).all()


def test_schema_hash_is_sha256_of_ordered_names() -> None:
    expected = hashlib.sha256("\n".join(FEATURE_NAMES).encode()).hexdigest()
    assert expected == FEATURE_SCHEMA_HASH
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)


def test_type_codes_match_the_proto_enum() -> None:
    for name in TRANSACTION_TYPES:
        assert transaction_pb2.TransactionType.Value(f"TRANSACTION_TYPE_{name}") == TYPE_CODES[name]


def test_takeover_signature() -> None:
    # A TRANSFER that empties the origin exactly to a mule whose balances stay 0.
    row = compute_features(
        step=np.array([200]), type_code=np.array([2]), amount=np.array([5000.0]),
        old_balance_orig=np.array([5000.0]), new_balance_orig=np.array([0.0]),
        old_balance_dest=np.array([0.0]), new_balance_dest=np.array([0.0]),
        dest_merchant=np.array([False]),
    )[0]  # fmt: skip
    named = dict(zip(FEATURE_NAMES, row, strict=True))
    assert named["orig_exact_drain"] == 1.0
    assert named["orig_emptied"] == 1.0
    assert named["dest_zero_before_after"] == 1.0
    assert named["orig_balance_error"] == 0.0
    assert named["drain_gap"] == pytest.approx(-4.0)
    assert named["type_transfer"] == 1.0


def test_unknown_type_is_rejected() -> None:
    frame = pd.read_csv(SAMPLE).head(3)
    frame.loc[1, "type"] = "WIRE"
    with pytest.raises(ValueError, match="WIRE"):
        features_from_frame(frame)


def test_transaction_error_explains_bad_items() -> None:
    good = _transactions(pd.read_csv(SAMPLE).head(1))[0]
    assert transaction_error(good) is None
    bad_type = transaction_pb2.Transaction(type=0, amount=1.0)
    assert "type" in (transaction_error(bad_type) or "")
    negative = transaction_pb2.Transaction(type=1, amount=-5.0)
    assert "amount" in (transaction_error(negative) or "")
