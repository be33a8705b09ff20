"""PaySim-compatible transaction simulator: vectorised, seeded, written to CSV in chunks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fraudstream.model.paysim import TRANSACTION_TYPES
from fraudstream.training import calibration as cal
from fraudstream.training.csvio import (
    replaced_on_success,
    write_paysim_chunk,
    write_paysim_header,
)
from fraudstream.training.fraud import FraudBlock, drift_fraud, takeover_fraud
from fraudstream.training.patterns import (
    PATTERN_COLUMN,
    PATTERNS,
    patterns_path,
    plan_patterns,
    write_side_file,
)
from fraudstream.training.progress import stderr_progress
from fraudstream.training.sampling import account_names, from_quantiles, money

logger = logging.getLogger(__name__)

STEPS = 743
DRIFT_PATTERNS = ("structuring", "merchant")
_DEBIT_TYPES = ("PAYMENT", "TRANSFER", "CASH_OUT", "DEBIT")


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate: size, seed, an optional new fraud pattern from a step on, and
    stateful patterns as (name, share of rows) pairs (none by default; see training.patterns)."""

    rows: int
    seed: int = 7
    steps: int = STEPS
    drift_step: int | None = None
    drift_pattern: str = "structuring"
    chunk_rows: int = 500_000
    patterns: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class SimulationSummary:
    """What was written."""

    rows: int
    frauds: int
    flagged: int
    steps: int
    pattern_rows: int = 0


def step_weights(steps: int = STEPS) -> np.ndarray:
    """Relative legitimate volume per step: PaySim's daily level times its hour-of-day cycle."""
    index = np.arange(steps)
    day = np.minimum(index // 24, len(cal.DAY_VOLUME) - 1)
    weights = np.asarray(cal.DAY_VOLUME)[day] * np.asarray(cal.HOUR_VOLUME)[index % 24]
    weights = np.maximum(weights, 1e-6)
    return weights / weights.sum()


def _legit_origin(
    rng: np.random.Generator, kind: str, amount: np.ndarray
) -> tuple[np.ndarray, ...]:
    n = amount.shape[0]
    if kind == "CASH_IN":
        zero_share, small_share = cal.CASH_IN_ORIGIN_SHARES
        state = rng.choice(3, size=n, p=[zero_share, small_share, 1.0 - zero_share - small_share])
        old = np.where(state == 1, rng.integers(1, 101, n), 0).astype(np.float64)
        big = state == 2
        old[big] = money(
            from_quantiles(rng, cal.CASH_IN_ORIGIN_QUANTILES, int(np.count_nonzero(big)))
        )
        return old, money(old + amount)
    shares = np.asarray(cal.ORIGIN_STATE_SHARES[kind])
    state = rng.choice(4, size=n, p=shares / shares.sum())
    old = np.zeros(n)
    small = state == 1
    old[small] = rng.integers(1, 101, int(np.count_nonzero(small)))
    below = state == 2
    ratio = from_quantiles(rng, cal.ORIGIN_MID_RATIO_QUANTILES[kind], int(np.count_nonzero(below)))
    old[below] = money(amount[below] * ratio)
    above = state == 3
    ratio = from_quantiles(rng, cal.ORIGIN_RICH_RATIO_QUANTILES[kind], int(np.count_nonzero(above)))
    # A legitimate customer never spends exactly the whole balance in PaySim 1.0.
    old[above] = np.maximum(money(amount[above] * ratio), amount[above] + 0.01)
    covered = old >= amount
    new = np.where(covered, money(old - amount), 0.0)
    return old, new


def _legit_destination(
    rng: np.random.Generator, kind: str, amount: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = amount.shape[0]
    if kind == "PAYMENT":
        return np.zeros(n), np.zeros(n)
    old = money(from_quantiles(rng, cal.DEST_QUANTILES[kind], n))
    old[rng.random(n) < cal.DEST_ZERO_SHARE[kind]] = 0.0
    # An agent's float goes down on a CASH_IN (it pays out), a customer's goes up.
    new = np.maximum(old - amount, 0.0) if kind == "CASH_IN" else old + amount
    mismatch = rng.random(n) < cal.DEST_MISMATCH_SHARE[kind]
    drift = np.exp(rng.normal(0.0, 0.35, int(np.count_nonzero(mismatch))))
    new[mismatch] = np.abs(new[mismatch] + (old[mismatch] + amount[mismatch]) * (drift - 1.0))
    new = money(new)
    if kind != "CASH_IN":
        both_zero = rng.random(n) < cal.DEST_BOTH_ZERO_SHARE[kind]
        old[both_zero] = 0.0
        new[both_zero] = 0.0
    return old, new


def legit_block(rng: np.random.Generator, steps: np.ndarray) -> pd.DataFrame:
    """Legitimate rows, one per entry of `steps`, in PaySim layout (labels 0)."""
    n = steps.shape[0]
    shares = np.asarray([cal.TYPE_SHARES[t] for t in TRANSACTION_TYPES])
    kind_index = rng.choice(len(TRANSACTION_TYPES), size=n, p=shares / shares.sum())
    amount = np.zeros(n)
    old_o, new_o, old_d, new_d = (np.zeros(n) for _ in range(4))
    for i, kind in enumerate(TRANSACTION_TYPES):
        rows = np.flatnonzero(kind_index == i)
        amount[rows] = np.maximum(
            money(from_quantiles(rng, cal.AMOUNT_QUANTILES[kind], rows.size)), 0.01
        )
        old_o[rows], new_o[rows] = _legit_origin(rng, kind, amount[rows])
        old_d[rows], new_d[rows] = _legit_destination(rng, kind, amount[rows])
    merchant = np.asarray(TRANSACTION_TYPES)[kind_index] == "PAYMENT"
    return pd.DataFrame(
        {
            "step": steps,
            "type": np.asarray(TRANSACTION_TYPES)[kind_index],
            "amount": amount,
            "nameOrig": account_names(rng, "C", n),
            "oldbalanceOrg": old_o,
            "newbalanceOrig": new_o,
            "nameDest": account_names(rng, "C", n, merchant=merchant),
            "oldbalanceDest": old_d,
            "newbalanceDest": new_d,
            "isFraud": np.zeros(n, dtype=np.int8),
            "isFlaggedFraud": np.zeros(n, dtype=np.int8),
        }
    )


def _plan(config: SimulationConfig, rng: np.random.Generator) -> tuple[np.ndarray, FraudBlock]:
    """Decide the fraud (all of it: it is small) and the legitimate row count of every step."""
    fraud_rows_wanted = config.rows * cal.FRAUD_RATE
    # A takeover is a TRANSFER + CASH_OUT pair, a little more when a balance exceeds the limit.
    victims = rng.poisson(fraud_rows_wanted / 2.12) if config.rows >= 1000 else 0
    fraud = takeover_fraud(rng, rng.integers(1, config.steps + 1, victims))
    if config.drift_step is not None:
        span = max(config.steps - config.drift_step + 1, 0)
        drift_victims = rng.poisson(victims / 2 * span / config.steps) if span else 0
        drift_steps = rng.integers(config.drift_step, config.steps + 1, drift_victims)
        fraud = fraud.concat(drift_fraud(rng, config.drift_pattern, drift_steps))
    if config.patterns:
        # Their own generator: the plan of a run without patterns stays byte for byte the same.
        pattern_rng = np.random.default_rng([config.seed, 0, 1])
        fraud = fraud.concat(plan_patterns(pattern_rng, config.patterns, config.rows, config.steps))
    legit_rows = max(config.rows - len(fraud), 0)
    per_step = rng.multinomial(legit_rows, step_weights(config.steps))
    return per_step, fraud.truncate(config.rows)


def simulate(config: SimulationConfig, out: Path, quiet: bool = False) -> SimulationSummary:
    """Write `config.rows` PaySim rows to `out` in step order, `config.chunk_rows` at a time."""
    if config.drift_step is not None and config.drift_pattern not in DRIFT_PATTERNS:
        raise ValueError(
            f"unknown drift pattern {config.drift_pattern!r}; use one of {DRIFT_PATTERNS}"
        )
    unknown = sorted({name for name, _ in config.patterns} - set(PATTERNS))
    if unknown:
        raise ValueError(f"unknown patterns {unknown}; use some of {PATTERNS}")
    plan_rng = np.random.default_rng([config.seed, 0])
    per_step, fraud = _plan(config, plan_rng)
    fraud_by_step = fraud.frame.groupby("step", sort=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    pattern_rows: list[pd.DataFrame] = []
    with (
        replaced_on_success(out) as partial,
        partial.open("wb") as sink,
        stderr_progress(quiet) as progress,
    ):
        task = progress.add_task("simulate", total=config.rows)
        write_paysim_header(sink)
        start = 0
        block = 0
        while start < config.steps:
            stop = start + 1
            while stop < config.steps and per_step[start:stop].sum() < config.chunk_rows:
                stop += 1
            block += 1
            rng = np.random.default_rng([config.seed, block])
            steps = np.repeat(np.arange(start + 1, stop + 1, dtype=np.int32), per_step[start:stop])
            legit = legit_block(rng, steps)
            frauds = [g for s, g in fraud_by_step if start < int(s) <= stop]  # type: ignore[call-overload]
            chunk = pd.concat([*frauds, legit], ignore_index=True) if frauds else legit
            # Fraud rows lead their step, in chain order, as PaySim writes them.
            chunk = chunk.sort_values("step", kind="stable", ignore_index=True)
            if PATTERN_COLUMN in chunk:
                marked = chunk[chunk[PATTERN_COLUMN].notna()]
                pattern_rows.append(marked.assign(row=marked.index + written))
            write_paysim_chunk(sink, chunk)
            written += len(chunk)
            progress.update(task, advance=len(chunk))
            start = stop
    if config.patterns:
        with replaced_on_success(patterns_path(out)) as side:
            write_side_file(side, pattern_rows)
    else:
        patterns_path(out).unlink(missing_ok=True)  # a side file of an earlier run is not ours
    summary = SimulationSummary(
        rows=written,
        frauds=int(fraud.frame["isFraud"].sum()),
        flagged=int(fraud.frame["isFlaggedFraud"].sum()),
        steps=config.steps,
        pattern_rows=sum(len(rows) for rows in pattern_rows),
    )
    logger.info("simulated %s", summary)
    return summary
