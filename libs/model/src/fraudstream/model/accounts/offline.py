"""Account features of a whole event stream at once (vectorised; what training uses)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from fraudstream.model.accounts.definition import (
    ACCOUNT_FEATURES,
    COUNTERPARTY,
    AccountDefinition,
    AccountFeature,
)

logger = logging.getLogger(__name__)


def effective_steps(step: Any) -> np.ndarray:
    """Each event's step, never below an earlier event's: a late event counts at the clock."""
    steps = np.asarray(step, dtype=np.int64)
    return np.maximum.accumulate(steps) if steps.size else steps


def amount_cents(amount: Any) -> np.ndarray:
    """Amounts in whole cents (round half to even, as `to_cents`)."""
    return np.rint(np.asarray(amount, dtype=np.float64) * 100.0).astype(np.int64)


class _KeyedStream:
    """The events grouped by one key (in arrival order inside a group), with window bounds."""

    def __init__(self, keys: Any, counterparties: Any, steps: np.ndarray, cents: np.ndarray):
        codes, _ = pd.factorize(np.asarray(keys, dtype=object))
        cp_codes, cp_names = pd.factorize(np.asarray(counterparties, dtype=object))
        self.order = np.argsort(codes, kind="stable")
        self.keys = codes[self.order].astype(np.int64)
        self.steps = steps[self.order]
        self.cents = cents[self.order]
        self.counterparties = cp_codes[self.order].astype(np.int64)
        n = self.keys.size
        self.position = np.arange(n, dtype=np.int64)
        span = int(self.steps.max()) + 1 if n else 1
        self._span = span
        self._prefix = np.concatenate([[0], np.cumsum(self.cents)])
        pair = self.keys * (len(cp_names) + 1) + self.counterparties
        by_pair = np.argsort(pair, kind="stable")
        same = pair[by_pair][1:] == pair[by_pair][:-1]
        # The previous position of the same (key, counterparty), -1 for a first meeting.
        self.previous_same = np.full(n, -1, dtype=np.int64)
        self.previous_same[by_pair[1:][same]] = by_pair[:-1][same]
        self._lower: dict[int, np.ndarray] = {}

    def lower(self, window: int) -> np.ndarray:
        """The first position inside each event's window (same key, step >= step - window)."""
        if window not in self._lower:
            base = self._span + window + 1
            composite = self.keys * base + self.steps
            self._lower[window] = np.searchsorted(composite, composite - window, side="left")
        return self._lower[window]

    def count(self, window: int) -> np.ndarray:
        return self.position - self.lower(window) + 1

    def sum_cents(self, window: int) -> np.ndarray:
        return self._prefix[self.position + 1] - self._prefix[self.lower(window)]

    def distinct(self, window: int) -> np.ndarray:
        # distinct = count - repeats, where event j repeats its counterparty for the events i
        # from j on while their window still holds j's previous meeting p = previous_same[j]:
        # window starts only grow, so that is i in [j, first i whose start passes p).
        lower = self.lower(window)
        repeat = np.flatnonzero(self.previous_same >= lower)
        ends = np.searchsorted(lower, self.previous_same[repeat], side="right")
        size = self.keys.size + 1
        change = np.bincount(repeat, minlength=size) - np.bincount(ends, minlength=size)
        return self.count(window) - np.cumsum(change[:-1])

    def aggregate(self, feature: AccountFeature) -> np.ndarray:
        window = feature.window
        if feature.aggregate == "count":
            return self.count(window).astype(np.float64)
        if feature.aggregate == "log_sum":
            return np.log1p(self.sum_cents(window) / 100.0)
        if feature.aggregate == "distinct":
            return self.distinct(window).astype(np.float64)
        count = self.count(window)
        earlier = count >= 2
        if feature.aggregate == "since_last":
            gap = self.steps - np.concatenate([[0], self.steps[:-1]])
            return np.where(earlier, gap, feature.sentinel).astype(np.float64)
        history = (self.sum_cents(window) - self.cents) / np.maximum(count - 1, 1)
        deviation = np.log1p(self.cents / 100.0) - np.log1p(history / 100.0)
        return np.where(earlier, deviation, feature.sentinel)


def compute_account_features(
    step: Any,
    name_orig: Any,
    name_dest: Any,
    amount: Any,
    definition: AccountDefinition = ACCOUNT_FEATURES,
) -> np.ndarray:
    """The (n, len(definition.features)) float64 account features of events in arrival order.

    Row i sees only rows 0..i (the stream before it), exactly as `AccountState` computes them.
    """
    steps = effective_steps(step)
    cents = amount_cents(amount)
    names = {"name_orig": name_orig, "name_dest": name_dest}
    out = np.empty((steps.size, len(definition.features)), dtype=np.float64)
    for key in definition.used_keys:
        stream = _KeyedStream(names[key], names[COUNTERPARTY[key]], steps, cents)
        for column, feature in enumerate(definition.features):
            if feature.key == key:
                out[stream.order, column] = stream.aggregate(feature)
    return out


def account_features_from_frame(
    frame: pd.DataFrame, definition: AccountDefinition = ACCOUNT_FEATURES
) -> np.ndarray:
    """Account features of a DataFrame in PaySim layout (Kaggle column names), in row order."""
    return compute_account_features(
        frame["step"].to_numpy(),
        frame["nameOrig"].to_numpy(dtype=object),
        frame["nameDest"].to_numpy(dtype=object),
        frame["amount"].to_numpy(dtype=np.float64),
        definition,
    )


class ChunkedAccountFeatures:
    """The offline path over a stream read in chunks (a CSV too large to hold at once).

    Each chunk is computed together with the tail of earlier events still inside a window
    (effective step >= clock - horizon): a feature only reads events of the last `horizon`
    steps, so the chunk's rows come out exactly as over the whole stream at once.
    """

    def __init__(self, definition: AccountDefinition = ACCOUNT_FEATURES):
        self.definition = definition
        self._tail: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def update(self, step: Any, name_orig: Any, name_dest: Any, amount: Any) -> np.ndarray:
        """The account features of the chunk's events (in order), after every earlier chunk."""
        chunk = (
            np.asarray(step, dtype=np.int64),
            np.asarray(name_orig, dtype=object),
            np.asarray(name_dest, dtype=object),
            np.asarray(amount, dtype=np.float64),
        )
        if self._tail is not None:
            chunk = tuple(  # type: ignore[assignment]
                np.concatenate([old, new]) for old, new in zip(self._tail, chunk, strict=True)
            )
        held = 0 if self._tail is None else self._tail[0].size
        steps = effective_steps(chunk[0])
        out = compute_account_features(steps, chunk[1], chunk[2], chunk[3], self.definition)
        if steps.size:
            keep = steps >= steps[-1] - self.definition.horizon
            self._tail = (steps[keep], chunk[1][keep], chunk[2][keep], chunk[3][keep])
        return out[held:]

    def update_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """`update` of a DataFrame chunk in PaySim layout (Kaggle column names)."""
        return self.update(
            frame["step"].to_numpy(),
            frame["nameOrig"].to_numpy(dtype=object),
            frame["nameDest"].to_numpy(dtype=object),
            frame["amount"].to_numpy(dtype=np.float64),
        )
