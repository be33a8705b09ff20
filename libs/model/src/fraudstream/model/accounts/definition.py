"""The account features, defined once as data: every path (offline, embedded, Flink) reads this."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger(__name__)

Key = Literal["name_orig", "name_dest"]
Aggregate = Literal["count", "log_sum", "distinct", "since_last", "amount_vs_history"]

_KEYS: tuple[Key, ...] = ("name_orig", "name_dest")
AGGREGATES: tuple[str, ...] = ("count", "log_sum", "distinct", "since_last", "amount_vs_history")
# The counterparty of an event seen from each key: an origin pays destinations and back.
COUNTERPARTY: dict[str, str] = {"name_orig": "name_dest", "name_dest": "name_orig"}


@dataclass(frozen=True)
class AccountFeature:
    """One account feature: an aggregate of the key's events at steps [s - window, s].

    The window holds the key's events of the last `window` steps before the event's step `s`,
    those of step `s` that arrived before it, and the event itself (see docs/account-features.md).
    """

    name: str
    key: Key
    aggregate: Aggregate
    window: int

    @property
    def meaning(self) -> str:
        """What the value says, in words (the console shows it beside the value)."""
        who = "origin" if self.key == "name_orig" else "destination"
        other = "destinations" if self.key == "name_orig" else "senders"
        span = f"{self.window} step" + ("s" if self.window != 1 else "")
        moved = "sent" if self.key == "name_orig" else "received"
        words = {
            "count": f"transactions the {who} {moved} in the last {span}",
            "log_sum": f"log(1 + the amounts the {who} {moved} in the last {span})",
            "distinct": f"distinct {other} of the {who} in the last {span}",
            "since_last": f"steps since the {who}'s previous transaction (max {span})",
            "amount_vs_history": f"this amount against the {who}'s last {span} (log ratio)",
        }
        return words[self.aggregate]

    @property
    def sentinel(self) -> float:
        """The value when the window holds no earlier event of the key (history aggregates only).

        `since_last`: one more than the window ("longer ago than we look"), so the value grows
        with the gap; `amount_vs_history`: 0.0 ("no deviation"). count, log_sum and distinct
        always include the event itself and need none.
        """
        if self.aggregate == "since_last":
            return float(self.window + 1)
        return 0.0

    @property
    def bounds(self) -> tuple[float, float]:
        """The closed range every path's value lies in; a value outside was not computed by
        this definition (a model refuses it rather than score it).

        count and distinct include the event itself (>= 1); log_sum and amount_vs_history are
        logs of `1 + x` for finite non-negative x (|value| < 710); since_last is a step gap
        within the window, or the sentinel one past it.
        """
        if self.aggregate in ("count", "distinct"):
            return 1.0, _MAX_COUNT
        if self.aggregate == "log_sum":
            return 0.0, _MAX_LOG
        if self.aggregate == "since_last":
            return 0.0, float(self.window + 1)
        return -_MAX_LOG, _MAX_LOG


# log1p of the largest float64 is about 709.8; counts stay far below this (a day of events).
_MAX_LOG = 710.0
_MAX_COUNT = 1e9


@dataclass(frozen=True)
class AccountDefinition:
    """An ordered tuple of account features; the column order of every path's output."""

    features: tuple[AccountFeature, ...]

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("account feature names must be unique")
        for feature in self.features:
            if feature.key not in COUNTERPARTY:
                raise ValueError(f"{feature.name}: key {feature.key!r} is not a known key")
            if feature.aggregate not in AGGREGATES:
                raise ValueError(f"{feature.name}: unknown aggregate {feature.aggregate!r}")
            if feature.window < 0:
                raise ValueError(f"{feature.name}: window must be >= 0 steps")

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names in output order."""
        return tuple(f.name for f in self.features)

    @property
    def horizon(self) -> int:
        """The longest window in steps: state older than this is never read again (the TTL)."""
        return max((f.window for f in self.features), default=0)

    @property
    def used_keys(self) -> tuple[Key, ...]:
        """The keys the definition uses, in a fixed order."""
        used = {f.key for f in self.features}
        return tuple(k for k in _KEYS if k in used)

    def fingerprint(self) -> str:
        """sha256 of the definition, one feature per line: a snapshot restores only into its own."""
        lines = (f"{f.name},{f.key},{f.aggregate},{f.window}" for f in self.features)
        return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def _f(name: str, key: Key, aggregate: Aggregate, window: int) -> AccountFeature:
    return AccountFeature(name, key, aggregate, window)


ACCOUNT_FEATURES = AccountDefinition(
    (
        _f("orig_count_1", "name_orig", "count", 1),
        _f("orig_count_24", "name_orig", "count", 24),
        _f("orig_log_sum_1", "name_orig", "log_sum", 1),
        _f("orig_log_sum_24", "name_orig", "log_sum", 24),
        _f("orig_distinct_dest_24", "name_orig", "distinct", 24),
        _f("orig_steps_since_last", "name_orig", "since_last", 24),
        _f("orig_amount_vs_history", "name_orig", "amount_vs_history", 24),
        _f("dest_count_1", "name_dest", "count", 1),
        _f("dest_count_24", "name_dest", "count", 24),
        _f("dest_log_sum_24", "name_dest", "log_sum", 24),
        _f("dest_distinct_orig_1", "name_dest", "distinct", 1),
        _f("dest_distinct_orig_24", "name_dest", "distinct", 24),
        _f("dest_steps_since_last", "name_dest", "since_last", 24),
        _f("dest_amount_vs_history", "name_dest", "amount_vs_history", 24),
    )
)
ACCOUNT_FEATURE_NAMES: tuple[str, ...] = ACCOUNT_FEATURES.names


# The largest amount the account paths add up: window sums of int64 cents stay exact for
# millions of such events. A larger (or negative, or non-finite) amount is no payment any
# path can count; the bridge keeps it out of the state and the scorer refuses the event.
MAX_AMOUNT = 1e12


def to_cents(amount: float) -> int:
    """An amount in whole cents: sums of cents are exact, so every path adds up the same."""
    return round(amount * 100.0)
