"""Fraud chains as PaySim writes them (account takeover), plus drift patterns for experiments."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudstream.model.paysim import PAYSIM_COLUMNS
from fraudstream.training import calibration as cal
from fraudstream.training.sampling import account_names, from_quantiles, money

logger = logging.getLogger(__name__)

# Structuring: transfers kept under this amount, to stay below a reporting threshold.
_STRUCTURING_CAP = 10_000.0


@dataclass(frozen=True)
class FraudBlock:
    """Fraud rows in PaySim layout, in chain order, with their steps."""

    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)

    def concat(self, other: FraudBlock) -> FraudBlock:
        """Both blocks, ordered by step (chains stay together)."""
        merged = pd.concat([self.frame, other.frame], ignore_index=True)
        return FraudBlock(merged.sort_values("step", kind="stable", ignore_index=True))

    def truncate(self, rows: int) -> FraudBlock:
        """At most `rows` rows (for tiny simulations)."""
        return self if len(self) <= rows else FraudBlock(self.frame.iloc[:rows].copy())


def _rows(step, kind, amount, old_o, new_o, old_d, new_d, flagged, rng) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    n = len(amount)
    frame = pd.DataFrame(
        {
            "step": np.asarray(step, dtype=np.int32),
            "type": np.asarray(kind, dtype=object),
            "amount": money(amount),
            "nameOrig": account_names(rng, "C", n),
            "oldbalanceOrg": money(old_o),
            "newbalanceOrig": money(new_o),
            "nameDest": account_names(rng, "C", n, merchant=np.asarray(kind) == "PAYMENT"),
            "oldbalanceDest": money(old_d),
            "newbalanceDest": money(new_d),
            "isFraud": np.ones(n, dtype=np.int8),
            "isFlaggedFraud": np.asarray(flagged, dtype=np.int8),
        }
    )
    return frame[list(PAYSIM_COLUMNS)]


def takeover_fraud(rng: np.random.Generator, victim_steps: np.ndarray) -> FraudBlock:
    """Account takeover: a TRANSFER that empties the victim to a mule, then a CASH_OUT of it.

    Balances above PaySim's transfer limit are emptied in limit-sized chunks, each its own pair.
    The mule's balances are recorded as 0 before and after (PaySim 1.0 does not update them), and
    PaySim 1.0 records each row under a fresh account name. A few transfers are flagged and then
    not executed (the origin balance stays), as the reference shows.
    """
    balance = np.maximum(
        money(from_quantiles(rng, cal.FRAUD_BALANCE_QUANTILES, len(victim_steps))), 1.0
    )
    chunks = np.ceil(balance / cal.TRANSFER_LIMIT).astype(np.int64)
    victim = np.repeat(np.arange(len(balance)), chunks)
    chunk_index = np.arange(len(victim)) - np.repeat(np.cumsum(chunks) - chunks, chunks)
    old = balance[victim] - chunk_index * cal.TRANSFER_LIMIT
    amount = np.minimum(old, cal.TRANSFER_LIMIT)
    steps = victim_steps[victim]
    n = len(amount)
    flagged = rng.random(n) < cal.FLAGGED_SHARE
    transfer = _rows(
        steps, ["TRANSFER"] * n, amount, old, np.where(flagged, old, old - amount),
        np.zeros(n), np.zeros(n), flagged, rng,
    )  # fmt: skip
    dest_old = money(from_quantiles(rng, cal.FRAUD_DEST_QUANTILES, n))
    dest_old[rng.random(n) < cal.FRAUD_DEST_ZERO_SHARE] = 0.0
    dest_new = dest_old + amount
    mismatch = rng.random(n) < cal.FRAUD_DEST_MISMATCH_SHARE
    dest_new[mismatch] *= np.exp(rng.normal(0.0, 0.35, int(np.count_nonzero(mismatch))))
    cash_out = _rows(
        steps, ["CASH_OUT"] * n, amount, amount, np.zeros(n), dest_old, dest_new,
        np.zeros(n), rng,
    )  # fmt: skip
    # Interleave: each TRANSFER directly followed by its CASH_OUT.
    pairs = pd.concat([transfer, cash_out]).sort_index(kind="stable").reset_index(drop=True)
    return FraudBlock(pairs.sort_values("step", kind="stable", ignore_index=True))


def drift_fraud(rng: np.random.Generator, pattern: str, victim_steps: np.ndarray) -> FraudBlock:
    """A fraud pattern PaySim never had, for online-learning experiments.

    `structuring`: the victim is drained through several small TRANSFERs under 10,000 whose
    balances add up, then one CASH_OUT; `merchant`: one PAYMENT to a merchant empties the victim.
    """
    n_victims = len(victim_steps)
    if pattern == "merchant":
        balance = money(from_quantiles(rng, cal.AMOUNT_QUANTILES["PAYMENT"], n_victims) * 3.0)
        zeros = np.zeros(n_victims)
        rows = _rows(
            victim_steps, ["PAYMENT"] * n_victims, balance, balance, zeros, zeros, zeros,
            zeros, rng,
        )  # fmt: skip
        return FraudBlock(rows)
    if pattern != "structuring":
        raise ValueError(f"unknown drift pattern {pattern!r}")
    balance = money(rng.uniform(15_000.0, 60_000.0, n_victims))
    parts = rng.integers(3, 7, n_victims)
    victim = np.repeat(np.arange(n_victims), parts)
    share = rng.dirichlet(np.ones(6), n_victims)[:, :]
    offsets = np.arange(len(victim)) - np.repeat(np.cumsum(parts) - parts, parts)
    weights = share[victim, offsets]
    weights /= np.bincount(victim, weights=weights)[victim]
    amount = np.minimum(money(balance[victim] * weights), _STRUCTURING_CAP - 0.01)
    spent_before = (
        np.cumsum(amount)
        - np.repeat(
            np.cumsum(np.bincount(victim, weights=amount)) - np.bincount(victim, weights=amount),
            parts,
        )
        - amount
    )
    old = money(balance[victim] - spent_before)
    new = money(np.maximum(old - amount, 0.0))
    mule_old = money(rng.uniform(0.0, 5_000.0, n_victims))[victim] + spent_before
    steps = victim_steps[victim]
    transfers = _rows(
        steps, ["TRANSFER"] * len(victim), amount, old, new, mule_old, mule_old + amount,
        np.zeros(len(victim)), rng,
    )  # fmt: skip
    total = np.bincount(victim, weights=amount, minlength=n_victims)
    cash_out = _rows(
        victim_steps, ["CASH_OUT"] * n_victims, total, total, np.zeros(n_victims),
        np.zeros(n_victims), total, np.zeros(n_victims), rng,
    )  # fmt: skip
    block = pd.concat([transfers, cash_out], ignore_index=True)
    return FraudBlock(block.sort_values("step", kind="stable", ignore_index=True))
