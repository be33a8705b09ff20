"""Account features event by event: bounded keyed state for the ingest bridge, saved as bytes."""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fraudstream.model.accounts.codec import decode_state, encode_state
from fraudstream.model.accounts.definition import (
    ACCOUNT_FEATURES,
    AccountDefinition,
    Key,
    to_cents,
)

logger = logging.getLogger(__name__)

# One remembered event of an account: (step, counterparty, amount in cents).
Event = tuple[int, str, int]


@dataclass
class StateCounters:
    """What the state dropped or adjusted since it began (carried through snapshots)."""

    events: int = 0
    late_events: int = 0  # arrived with a step below the clock; counted at the clock
    expired: int = 0  # accounts idle longer than the horizon, dropped (no feature changes)
    evictions: int = 0  # accounts dropped by the cap while still inside the horizon


class _Role:
    """The accounts of one key (origins or destinations), least recently seen first."""

    def __init__(self, definition: AccountDefinition, key: Key):
        self.key = key
        self.columns = [i for i, f in enumerate(definition.features) if f.key == key]
        self.features = [definition.features[i] for i in self.columns]
        self.windows = sorted({f.window for f in self.features})
        self.accounts: OrderedDict[str, deque[Event]] = OrderedDict()

    def observe(self, name: str, event: Event, horizon: int, out: np.ndarray) -> None:
        """Add the event to its account and write this role's features into `out`."""
        events = self.accounts.get(name)
        if events is None:
            events = self.accounts[name] = deque()
        else:
            self.accounts.move_to_end(name)
        step = event[0]
        while events and events[0][0] < step - horizon:
            events.popleft()
        events.append(event)
        stats = self._window_stats(events, step)
        for column, feature in zip(self.columns, self.features, strict=True):
            count, cents, distinct, previous = stats[feature.window]
            if feature.aggregate == "count":
                out[column] = count
            elif feature.aggregate == "log_sum":
                out[column] = math.log1p(cents / 100.0)
            elif feature.aggregate == "distinct":
                out[column] = distinct
            elif count < 2:
                out[column] = feature.sentinel
            elif feature.aggregate == "since_last":
                out[column] = step - previous
            else:
                history = (cents - event[2]) / (count - 1)
                out[column] = math.log1p(event[2] / 100.0) - math.log1p(history / 100.0)

    def _window_stats(self, events: deque[Event], step: int) -> dict[int, tuple[int, ...]]:
        # One walk from the newest event back, closing the windows from the shortest:
        # window -> (count, cents, distinct counterparties, step of the previous event).
        stats: dict[int, tuple[int, ...]] = {}
        count = cents = 0
        counterparties: set[str] = set()
        previous = events[-2][0] if len(events) > 1 else step
        pending = iter(self.windows)
        window = next(pending)
        for event_step, counterparty, event_cents in reversed(events):
            while event_step < step - window:
                stats[window] = (count, cents, len(counterparties), previous)
                window = next(pending, -1)
                if window < 0:
                    return stats
            count += 1
            cents += event_cents
            counterparties.add(counterparty)
        stats[window] = (count, cents, len(counterparties), previous)
        for window in pending:
            stats[window] = (count, cents, len(counterparties), previous)
        return stats

    def forget(self, clock: int, horizon: int, max_accounts: int, counters: StateCounters) -> None:
        """Drop accounts idle past the horizon, then the least recently seen over the cap."""
        accounts = self.accounts
        while accounts:
            name, events = next(iter(accounts.items()))
            if events[-1][0] >= clock - horizon:
                break
            del accounts[name]
            counters.expired += 1
        while len(accounts) > max_accounts:
            accounts.popitem(last=False)
            counters.evictions += 1


class AccountState:
    """Per-account state of the stream seen so far; features of each new event in arrival order.

    Memory is bounded: an account idle longer than the definition's horizon is dropped (it can no
    longer change a feature), and at most `max_accounts` accounts are kept per key (the least
    recently seen go first, counted in `counters.evictions`: an evicted account starts afresh).
    """

    def __init__(
        self, definition: AccountDefinition = ACCOUNT_FEATURES, max_accounts: int = 1_000_000
    ):
        if max_accounts < 1:
            raise ValueError("max_accounts must be at least 1")
        self.definition = definition
        self.max_accounts = max_accounts
        self.clock = 0
        self.counters = StateCounters()
        self._roles = {key: _Role(definition, key) for key in definition.used_keys}

    def __len__(self) -> int:
        """Accounts held, over all keys."""
        return sum(len(role.accounts) for role in self._roles.values())

    def update(self, step: int, name_orig: str, name_dest: str, amount: float) -> np.ndarray:
        """Add one event and return its account features (len(definition.features) floats)."""
        out = np.empty(len(self.definition.features), dtype=np.float64)
        self._observe(int(step), name_orig, name_dest, to_cents(float(amount)), out)
        return out

    def update_batch(
        self,
        step: Sequence[int] | np.ndarray,
        name_orig: Sequence[str],
        name_dest: Sequence[str],
        amount: Sequence[float] | np.ndarray,
    ) -> np.ndarray:
        """Add a micro-batch in its order; the (n, len(definition.features)) features."""
        steps = np.asarray(step, dtype=np.int64).tolist()
        cents = np.rint(np.asarray(amount, dtype=np.float64) * 100.0).astype(np.int64).tolist()
        out = np.empty((len(steps), len(self.definition.features)), dtype=np.float64)
        for i, (s, orig, dest, c) in enumerate(
            zip(steps, name_orig, name_dest, cents, strict=True)
        ):
            self._observe(s, str(orig), str(dest), c, out[i])
        return out

    def _observe(self, step: int, orig: str, dest: str, cents: int, out: np.ndarray) -> None:
        counters = self.counters
        counters.events += 1
        if step < self.clock:
            counters.late_events += 1
        else:
            self.clock = step
        horizon = self.definition.horizon
        for key, role in self._roles.items():
            name, counterparty = (orig, dest) if key == "name_orig" else (dest, orig)
            role.observe(name, (self.clock, counterparty, cents), horizon, out)
            role.forget(self.clock, horizon, self.max_accounts, counters)

    def snapshot(self) -> bytes:
        """The whole state as bytes (zlib-compressed JSON, no pickle): save it with the offsets."""
        roles = {key: role.accounts for key, role in self._roles.items()}
        return encode_state(
            self.definition.fingerprint(), self.max_accounts, self.clock, self.counters, roles
        )

    @classmethod
    def restore(cls, blob: bytes, definition: AccountDefinition = ACCOUNT_FEATURES) -> AccountState:
        """A state equal to the one `snapshot()` saved; ValueError for a foreign or broken blob."""
        saved = decode_state(blob, definition.fingerprint(), definition.used_keys)
        state = cls(definition, max_accounts=saved.max_accounts)
        state.clock = saved.clock
        state.counters = StateCounters(**saved.counters)
        for key, accounts in saved.roles.items():
            state._roles[key].accounts = accounts
        return state
