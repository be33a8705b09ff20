"""The one feature pipeline: one vector from a PaySim row, a DataFrame chunk or Transactions."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fraudstream.model.columns import TransactionColumns, transaction_columns
from fraudstream.model.paysim import BALANCE_COLUMNS, TRANSACTION_TYPES, TYPE_CODES

if TYPE_CHECKING:
    # pandas only for files (training, replay): the services' start-up never imports it.
    import pandas as pd

    from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

FEATURE_NAMES: tuple[str, ...] = (
    "log_amount",
    "log_old_balance_orig",
    "log_new_balance_orig",
    "log_old_balance_dest",
    "log_new_balance_dest",
    "orig_balance_error",
    "dest_balance_error",
    "orig_error_ratio",
    "dest_error_ratio",
    "amount_over_balance",
    "drain_gap",
    "dest_change",
    "orig_emptied",
    "orig_exact_drain",
    "orig_zero_before",
    "dest_zero_before_after",
    "dest_merchant",
    *(f"type_{name.lower()}" for name in TRANSACTION_TYPES),
    "hour_sin",
    "hour_cos",
)
# Ratios of a balance error to the amount are clipped: beyond a few amounts they only say "large".
_RATIO_CLIP = 5.0
# Relative gaps below this floor (log10) are "exactly equal" for the gap features.
_GAP_FLOOR = 1e-4
# Amounts are recorded in cents; two balances closer than half a cent are the same balance.
_HALF_CENT = 0.005


def feature_schema_hash(names: Sequence[str] = FEATURE_NAMES) -> str:
    """Return the lowercase hex sha256 of the ordered feature names (one per line)."""
    return hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()


FEATURE_SCHEMA_HASH = feature_schema_hash()


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def compute_features(
    step: np.ndarray,
    type_code: np.ndarray,
    amount: np.ndarray,
    old_balance_orig: np.ndarray,
    new_balance_orig: np.ndarray,
    old_balance_dest: np.ndarray,
    new_balance_dest: np.ndarray,
    dest_merchant: np.ndarray,
) -> np.ndarray:
    """Return the (n, len(FEATURE_NAMES)) float64 feature matrix from column arrays.

    `type_code` holds fraudstream.v1.TransactionType numbers (1..5); anything else is rejected.
    Negative balances (overdrafts in newer PaySim versions) are valid and handled by the signed
    transforms.
    """
    amount = np.asarray(amount, dtype=np.float64)
    old_o = np.asarray(old_balance_orig, dtype=np.float64)
    new_o = np.asarray(new_balance_orig, dtype=np.float64)
    old_d = np.asarray(old_balance_dest, dtype=np.float64)
    new_d = np.asarray(new_balance_dest, dtype=np.float64)
    codes = np.asarray(type_code, dtype=np.int64)
    bad = (codes < 1) | (codes > len(TRANSACTION_TYPES))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"unknown transaction type code {codes[first]} at index {first}")
    # Extreme but finite inputs (balances near 1e308) overflow here; those rows come out
    # non-finite and validity.unscorable_rows refuses them, so numpy's warnings add nothing.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _feature_matrix(step, codes, amount, old_o, new_o, old_d, new_d, dest_merchant)


def _feature_matrix(
    step: np.ndarray,
    codes: np.ndarray,
    amount: np.ndarray,
    old_o: np.ndarray,
    new_o: np.ndarray,
    old_d: np.ndarray,
    new_d: np.ndarray,
    dest_merchant: np.ndarray,
) -> np.ndarray:
    n = amount.shape[0]
    out = np.empty((n, len(FEATURE_NAMES)), dtype=np.float64)
    orig_error = new_o + amount - old_o
    dest_error = old_d + amount - new_d
    per_amount = np.maximum(amount, 2 * _HALF_CENT)
    out[:, 0] = np.log1p(np.maximum(amount, 0.0))
    out[:, 1] = _signed_log(old_o)
    out[:, 2] = _signed_log(new_o)
    out[:, 3] = _signed_log(old_d)
    out[:, 4] = _signed_log(new_d)
    out[:, 5] = _signed_log(orig_error)
    out[:, 6] = _signed_log(dest_error)
    # np.minimum(np.maximum()) is np.clip's result (NaN included) without its Python wrapper.
    out[:, 7] = np.minimum(np.maximum(orig_error / per_amount, -_RATIO_CLIP), _RATIO_CLIP)
    out[:, 8] = np.minimum(np.maximum(dest_error / per_amount, -_RATIO_CLIP), _RATIO_CLIP)
    out[:, 9] = out[:, 0] - np.log1p(np.maximum(old_o, 0.0))
    merchant = np.asarray(dest_merchant, dtype=bool)
    # How close the payment comes to exactly emptying the origin (log10 of the gap per amount);
    # a CASH_IN credits the origin, so it cannot drain it.
    drain_gap = np.log10(np.abs(old_o - amount) / per_amount + _GAP_FLOOR)
    out[:, 10] = np.where(codes == TYPE_CODES["CASH_IN"], 0.0, drain_gap)
    # How much the destination balance moved per amount; merchants' balances are never recorded.
    dest_change = np.log10(np.abs(new_d - old_d) / per_amount + _GAP_FLOOR)
    out[:, 11] = np.where(merchant, 0.0, dest_change)
    out[:, 12] = (old_o > 0) & (np.abs(new_o) < _HALF_CENT)
    out[:, 13] = (amount > 0) & (np.abs(old_o - amount) < _HALF_CENT)
    out[:, 14] = np.abs(old_o) < _HALF_CENT
    out[:, 15] = (np.abs(old_d) < _HALF_CENT) & (np.abs(new_d) < _HALF_CENT)
    out[:, 16] = merchant
    for i in range(len(TRANSACTION_TYPES)):
        out[:, 17 + i] = codes == i + 1
    hour = np.asarray(step, dtype=np.float64) % 24.0
    out[:, 22] = np.sin(2.0 * math.pi * hour / 24.0)
    out[:, 23] = np.cos(2.0 * math.pi * hour / 24.0)
    return out


def type_codes_from_names(names: Any) -> np.ndarray:
    """Map PaySim type names (array-like of str) to TransactionType numbers; unknown names raise."""
    import pandas as pd

    series = pd.Series(np.asarray(names, dtype=object))
    codes = series.map(TYPE_CODES)
    if codes.isna().any():
        first = int(np.flatnonzero(codes.isna().to_numpy())[0])
        raise ValueError(f"unknown transaction type {series.iloc[first]!r} at index {first}")
    return codes.to_numpy(dtype=np.int64)


def features_from_frame(frame: pd.DataFrame) -> np.ndarray:
    """Features of a DataFrame chunk in PaySim layout (Kaggle column names, type as text)."""
    dest = frame["nameDest"].astype(str)
    return compute_features(
        step=frame["step"].to_numpy(),
        type_code=type_codes_from_names(frame["type"].to_numpy()),
        amount=frame["amount"].to_numpy(),
        old_balance_orig=frame["oldbalanceOrg"].to_numpy(),
        new_balance_orig=frame["newbalanceOrig"].to_numpy(),
        old_balance_dest=frame["oldbalanceDest"].to_numpy(),
        new_balance_dest=frame["newbalanceDest"].to_numpy(),
        dest_merchant=dest.str.startswith("M").to_numpy(dtype=bool),
    )


def features_from_rows(rows: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """Features of PaySim CSV rows as `csv.DictReader` yields them (values may be text)."""
    import pandas as pd

    frame = pd.DataFrame.from_records(list(rows))
    if frame.empty:
        return np.empty((0, len(FEATURE_NAMES)), dtype=np.float64)
    for column in ("step", "amount", *BALANCE_COLUMNS):
        frame[column] = pd.to_numeric(frame[column], errors="raise")
    return features_from_frame(frame)


def features_from_columns(columns: TransactionColumns) -> np.ndarray:
    """Features of transactions given as columns (all rows must be valid)."""
    return compute_features(
        step=columns.step,
        type_code=columns.type_code,
        amount=columns.amount,
        old_balance_orig=columns.old_balance_orig,
        new_balance_orig=columns.new_balance_orig,
        old_balance_dest=columns.old_balance_dest,
        new_balance_dest=columns.new_balance_dest,
        dest_merchant=columns.dest_merchant,
    )


def features_from_transactions(transactions: Sequence[Transaction]) -> np.ndarray:
    """Features of a batch of fraudstream.v1.Transaction messages."""
    return features_from_columns(transaction_columns(transactions))
