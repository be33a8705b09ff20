"""Transaction messages as numpy columns (one pass per field), and what makes one unscorable."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fraudstream.model.paysim import TRANSACTION_TYPES

if TYPE_CHECKING:
    from fraudstream.v1.transaction_pb2 import Transaction


@dataclass(frozen=True)
class TransactionColumns:
    """A batch of Transaction messages as column arrays (one pass over the messages per field)."""

    event_ids: list[str]
    step: np.ndarray
    type_code: np.ndarray
    amount: np.ndarray
    old_balance_orig: np.ndarray
    new_balance_orig: np.ndarray
    old_balance_dest: np.ndarray
    new_balance_dest: np.ndarray
    dest_merchant: np.ndarray

    def __len__(self) -> int:
        return len(self.event_ids)

    def take(self, rows: np.ndarray) -> TransactionColumns:
        """The columns of the given rows only."""
        return TransactionColumns(
            event_ids=[self.event_ids[i] for i in rows.tolist()],
            **{name: getattr(self, name)[rows] for name in _NUMERIC_COLUMNS},
        )


_NUMERIC_COLUMNS = (
    "step",
    "type_code",
    "amount",
    "old_balance_orig",
    "new_balance_orig",
    "old_balance_dest",
    "new_balance_dest",
    "dest_merchant",
)
_BALANCE_FIELDS = ("old_balance_orig", "new_balance_orig", "old_balance_dest", "new_balance_dest")


def transaction_columns(transactions: Sequence[Transaction]) -> TransactionColumns:
    """Column arrays of a batch of fraudstream.v1.Transaction messages."""
    f64 = np.float64
    if len(transactions) == 1:  # a Score call: one small array per column, no generators
        tx = transactions[0]
        old_o, new_o, old_d, new_d = (np.array([getattr(tx, f)], f64) for f in _BALANCE_FIELDS)
        return TransactionColumns(
            [tx.event_id], np.array([tx.step], f64), np.array([tx.type], np.int64),
            np.array([tx.amount], f64), old_o, new_o, old_d, new_d,
            np.array([tx.name_dest.startswith("M")], bool),
        )  # fmt: skip
    return TransactionColumns(
        event_ids=[tx.event_id for tx in transactions],
        step=np.fromiter((tx.step for tx in transactions), f64, len(transactions)),
        type_code=np.fromiter((tx.type for tx in transactions), np.int64, len(transactions)),
        amount=np.fromiter((tx.amount for tx in transactions), f64, len(transactions)),
        old_balance_orig=np.fromiter((tx.old_balance_orig for tx in transactions), f64),
        new_balance_orig=np.fromiter((tx.new_balance_orig for tx in transactions), f64),
        old_balance_dest=np.fromiter((tx.old_balance_dest for tx in transactions), f64),
        new_balance_dest=np.fromiter((tx.new_balance_dest for tx in transactions), f64),
        dest_merchant=np.fromiter(
            (tx.name_dest.startswith("M") for tx in transactions), bool, len(transactions)
        ),
    )


def transaction_problems(columns: TransactionColumns) -> dict[int, tuple[str, str]]:
    """Row -> (field, message) for rows that cannot be scored; vectorised, {} for a clean batch."""
    if len(columns.event_ids) == 1 and _one_clean(columns):
        return {}  # a Score call's one transaction: plain floats, no array pass per field
    problems: dict[int, tuple[str, str]] = {}
    codes = columns.type_code
    for row in np.flatnonzero((codes < 1) | (codes > len(TRANSACTION_TYPES))).tolist():
        problems[row] = ("type", f"transaction type {codes[row]} is not a known TransactionType")
    amount = columns.amount
    for row in np.flatnonzero(~np.isfinite(amount) | (amount < 0)).tolist():
        problems.setdefault(
            row, ("amount", f"amount {amount[row]} must be finite and not negative")
        )
    for field in _BALANCE_FIELDS:
        values = getattr(columns, field)
        for row in np.flatnonzero(~np.isfinite(values)).tolist():
            problems.setdefault(row, (field, f"{field} must be finite"))
    for row, event_id in enumerate(columns.event_ids):
        if not event_id:
            problems.setdefault(
                row, ("event_id", "event_id is required (it pairs the score with the event)")
            )
    return problems


def _one_clean(columns: TransactionColumns) -> bool:
    """Whether the one transaction of `columns` passes every check of transaction_problems."""
    amount = float(columns.amount[0])
    return (
        bool(columns.event_ids[0])
        and 1 <= int(columns.type_code[0]) <= len(TRANSACTION_TYPES)
        and math.isfinite(amount)
        and amount >= 0
        and all(math.isfinite(float(getattr(columns, field)[0])) for field in _BALANCE_FIELDS)
    )


def transaction_error(transaction: Transaction) -> str | None:
    """Why a Transaction cannot be scored (unknown type, non-finite or negative amount, ...)."""
    problems = transaction_problems(transaction_columns([transaction]))
    return problems[0][1] if problems else None
