"""Fraud patterns that only per-account state can see: mule fan-in, takeover bursts, structuring.

Each pattern draws whole instances (one mule and its victims, one taken-over account and its
burst, one structuring account and its transfers) until it has exactly its share of the rows.
The rows are labelled isFraud=1; which pattern a row belongs to goes only to a side file, so the
Kaggle layout stays as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fraudstream.model.paysim import PAYSIM_COLUMNS
from fraudstream.training import calibration as cal
from fraudstream.training.fraud import FraudBlock
from fraudstream.training.sampling import account_names, from_quantiles, money

logger = logging.getLogger(__name__)

# A transfer at or above this amount is reported; structuring stays just under it.
REPORTING_THRESHOLD = 10_000.0
PATTERN_COLUMN = "pattern"
SIDE_FILE_COLUMNS = ("row", "step", "nameOrig", "nameDest", PATTERN_COLUMN)


@dataclass(frozen=True)
class Shape:
    """How one pattern's instances look: rows per instance and the steps they spread over."""

    min_rows: int
    max_rows: int
    max_span: int


SHAPES: dict[str, Shape] = {
    "mule_fan_in": Shape(min_rows=6, max_rows=15, max_span=3),
    "takeover_burst": Shape(min_rows=8, max_rows=20, max_span=2),
    "structuring": Shape(min_rows=5, max_rows=12, max_span=6),
}
PATTERNS: tuple[str, ...] = tuple(SHAPES)


def patterns_path(out: Path) -> Path:
    """The side file beside a simulated CSV: `data.csv` -> `data.patterns.csv`."""
    return out.with_name(out.name.split(".", 1)[0] + ".patterns.csv")


def _instance_sizes(rng: np.random.Generator, shape: Shape, rows: int) -> np.ndarray:
    sizes: list[int] = []
    while sum(sizes) < rows:
        sizes.append(int(rng.integers(shape.min_rows, shape.max_rows + 1)))
    if sizes:
        sizes[-1] -= sum(sizes) - rows
        if sizes[-1] < shape.min_rows and len(sizes) > 1:
            short = sizes.pop()
            sizes[-1] += short  # a short last instance joins the one before it
    return np.asarray(sizes, dtype=np.int64)


def _spent_before(amount: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Per row, what earlier rows of its group moved (rows in order)."""
    return (pd.Series(amount).groupby(group).cumsum() - amount).to_numpy()


def _frame(step, kind, amount, orig, old_o, new_o, dest, old_d, new_d, pattern) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    n = len(amount)
    frame = pd.DataFrame(
        {
            "step": np.asarray(step, dtype=np.int32),
            "type": np.full(n, kind, dtype=object),
            "amount": money(amount),
            "nameOrig": orig,
            "oldbalanceOrg": money(old_o),
            "newbalanceOrig": money(new_o),
            "nameDest": dest,
            "oldbalanceDest": money(old_d),
            "newbalanceDest": money(new_d),
            "isFraud": np.ones(n, dtype=np.int8),
            "isFlaggedFraud": np.zeros(n, dtype=np.int8),
        }
    )
    frame[PATTERN_COLUMN] = pattern
    return frame[[*PAYSIM_COLUMNS, PATTERN_COLUMN]]


def pattern_fraud(rng: np.random.Generator, pattern: str, rows: int, steps: int) -> FraudBlock:
    """Exactly `rows` rows of `pattern` (whole instances), in step order, over steps 1..steps."""
    if pattern not in SHAPES:
        raise ValueError(f"unknown pattern {pattern!r}; use one of {PATTERNS}")
    shape = SHAPES[pattern]
    sizes = _instance_sizes(rng, shape, rows)
    k, n = len(sizes), int(sizes.sum())
    instance = np.repeat(np.arange(k), sizes)
    span = np.minimum(rng.integers(1, shape.max_span + 1, k), steps)
    start = rng.integers(1, steps - span + 2, k) if k else np.zeros(0, dtype=np.int64)
    offset = np.sort(rng.integers(0, span[instance]) + instance * steps) - instance * steps
    step = start[instance] + offset
    shared = np.asarray(account_names(rng, "C", k), dtype=object)[instance]
    fresh = np.asarray(account_names(rng, "C", n), dtype=object)
    dest_base = money(from_quantiles(rng, cal.DEST_QUANTILES["TRANSFER"], n))
    if pattern == "mule_fan_in":
        # Victims pay ordinary amounts and keep most of their money: no drained balance to see.
        amount = np.maximum(money(from_quantiles(rng, cal.AMOUNT_QUANTILES["TRANSFER"], n)), 1.0)
        old_o = money(amount * rng.uniform(1.5, 6.0, n))
        old_d = money(dest_base[np.flatnonzero(np.diff(instance, prepend=-1))][instance])
        old_d = old_d + _spent_before(amount, instance)
        return FraudBlock(
            _frame(step, "TRANSFER", amount, fresh, old_o, old_o - amount, shared, old_d,
                   old_d + amount, pattern)
        )  # fmt: skip
    if pattern == "takeover_burst":
        amount = money(rng.uniform(50.0, 2_500.0, n))
        totals = np.bincount(instance, weights=amount, minlength=k)
        balance = money(totals * rng.uniform(1.1, 4.0, k))[instance]
    else:
        amount = money(REPORTING_THRESHOLD * rng.uniform(0.9, 0.9999, n))
        amount = np.minimum(amount, REPORTING_THRESHOLD - 0.01)
        totals = np.bincount(instance, weights=amount, minlength=k)
        balance = money(totals * rng.uniform(1.05, 2.0, k))[instance]
    old_o = balance - _spent_before(amount, instance)
    dest, old_d = fresh, dest_base
    if pattern == "structuring":
        # Structuring sends to one to three accounts of its own, again and again.
        mules = np.asarray(account_names(rng, "C", 3 * k), dtype=object).reshape(k, 3)
        choice = rng.integers(0, rng.integers(1, 4, k)[instance])
        dest = mules[instance, choice]
        pair = instance * 3 + choice
        first = pd.Series(dest_base).groupby(pair).transform("first").to_numpy()
        old_d = first + _spent_before(amount, pair)
    return FraudBlock(
        _frame(step, "TRANSFER", amount, shared, old_o, old_o - amount, dest, old_d,
               old_d + amount, pattern)
    )  # fmt: skip


def plan_patterns(
    rng: np.random.Generator, rates: Sequence[tuple[str, float]], rows: int, steps: int
) -> FraudBlock:
    """Every requested pattern at its share of `rows` (round(rows * rate) rows each)."""
    blocks = []
    for pattern, rate in rates:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"pattern rate {rate} for {pattern} must be in [0, 1)")
        wanted = round(rows * rate)
        if wanted:
            blocks.append(pattern_fraud(rng, pattern, wanted, steps))
    if not blocks:
        return FraudBlock(pd.DataFrame(columns=[*PAYSIM_COLUMNS, PATTERN_COLUMN]))
    merged = pd.concat([b.frame for b in blocks], ignore_index=True)
    return FraudBlock(merged.sort_values("step", kind="stable", ignore_index=True))


def write_side_file(path: Path, rows: list[pd.DataFrame]) -> None:
    """The pattern of each pattern row, by 0-based data row (CSV line = row + 2)."""
    frame = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=list(SIDE_FILE_COLUMNS))
    )
    frame[list(SIDE_FILE_COLUMNS)].to_csv(path, index=False)
