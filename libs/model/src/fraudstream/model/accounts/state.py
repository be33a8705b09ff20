"""Account features event by event: bounded keyed state for the ingest bridge, saved as bytes."""

from __future__ import annotations

import logging
import math
import sys
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fraudstream.common import collector
from fraudstream.model.accounts.codec import decode_state, encode_state
from fraudstream.model.accounts.definition import (
    ACCOUNT_FEATURES,
    AccountDefinition,
    Key,
    to_cents,
)
from fraudstream.model.accounts.windows import AccountWindows, Event

logger = logging.getLogger(__name__)


# CPython 3.11 sizes used by `AccountState.nbytes`: an OrderedDict entry (hash table share and
# its linked-list node), and a lone account's event (a 3-tuple with an int beyond the cache).
_ORDERED_DICT_ENTRY, _LONE_EVENT = 104, 64 + 32


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
        self.distinct = [
            any(f.aggregate == "distinct" and f.window == w for f in self.features)
            for w in self.windows
        ]
        self.slots = [self.windows.index(f.window) for f in self.features]
        # An account with one event in its windows is held as that event alone: most accounts
        # (PaySim: nearly all) never have a second, and a bare tuple costs a fraction of the
        # windows' containers in time, memory and garbage collection.
        self.accounts: OrderedDict[str, AccountWindows | Event] = OrderedDict()
        # The features of a lone event: 1 for count and distinct, the sentinels for history,
        # log_sum filled in (at `_lone_logs`) from its amount.
        self._lone_row = [
            1.0 if f.aggregate in ("count", "distinct") else f.sentinel for f in self.features
        ]
        self._lone_logs = [i for i, f in enumerate(self.features) if f.aggregate == "log_sum"]

    def observe(self, name: str, event: Event, row: list[float]) -> None:
        """Add the event to its account and append this role's features to `row`."""
        held = self.accounts.get(name)
        if held is None:
            self.accounts[name] = event
            start = len(row)
            row.extend(self._lone_row)
            if self._lone_logs:
                log_sum = math.log1p(event[2] / 100.0)
                for i in self._lone_logs:
                    row[start + i] = log_sum
            return
        if type(held) is tuple:
            account = AccountWindows.from_events([held], self.windows, self.distinct)
            self.accounts[name] = account
        else:
            account = held  # type: ignore[assignment]
        self.accounts.move_to_end(name)
        account.add(event, self.windows)
        step, _, cents = event
        counts = [account.count(w) for w in range(len(self.windows))]
        for feature, w in zip(self.features, self.slots, strict=True):
            aggregate = feature.aggregate
            count = counts[w]
            if aggregate == "count":
                row.append(count)
            elif aggregate == "log_sum":
                row.append(math.log1p(account.cents[w] / 100.0))
            elif aggregate == "distinct":
                row.append(account.distinct(w))
            elif count < 2:
                row.append(feature.sentinel)
            elif aggregate == "since_last":
                row.append(step - account.prev_step)
            else:
                history = (account.cents[w] - cents) / (count - 1)
                row.append(math.log1p(cents / 100.0) - math.log1p(history / 100.0))

    def restore(self, saved: OrderedDict[str, list[Event]]) -> None:
        """Accounts from a snapshot's events, in the saved least-recently-seen order."""
        self.accounts = OrderedDict(
            (
                name,
                tuple(events[0])  # type: ignore[misc]
                if len(events) == 1
                else AccountWindows.from_events(events, self.windows, self.distinct),
            )
            for name, events in saved.items()
        )

    def expire(self, oldest: int, counters: StateCounters) -> None:
        """Drop the accounts whose newest event is before step `oldest` (past every window).

        Accounts are in least-recently-seen order, and each was last seen at the clock of its
        time, so their newest steps only grow along the order: the idle ones are a prefix. They
        can only become idle when the clock moves, so this runs then, not per event.
        """
        idle = []
        for name, account in self.accounts.items():
            last = account[0] if type(account) is tuple else account.last_step()  # type: ignore[union-attr]
            if last >= oldest:
                break
            idle.append(name)
        accounts = self.accounts
        for name in idle:
            del accounts[name]
        counters.expired += len(idle)

    def evict(self, max_accounts: int, counters: StateCounters) -> None:
        """Drop the least recently seen accounts over the cap."""
        accounts = self.accounts
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
        self, definition: AccountDefinition = ACCOUNT_FEATURES, max_accounts: int = 500_000
    ):
        if max_accounts < 1:
            raise ValueError("max_accounts must be at least 1")
        self.definition = definition
        self.max_accounts = max_accounts
        self.clock = 0
        self.counters = StateCounters()
        self._roles = {key: _Role(definition, key) for key in definition.used_keys}
        self._horizon = definition.horizon
        self._order = [(role, key == "name_orig") for key, role in self._roles.items()]
        # Roles append their features in role order; this puts them back in definition order.
        role_order = [c for role in self._roles.values() for c in role.columns]
        self._columns = np.argsort(np.asarray(role_order, dtype=np.int64))

    def __len__(self) -> int:
        """Accounts held, over all keys."""
        return sum(len(role.accounts) for role in self._roles.values())

    def nbytes(self) -> int:
        """About the memory the state holds: its containers and account names (a walk over
        every account: for metrics and benches, not per batch)."""
        total = 0
        for role in self._roles.values():
            total += _ORDERED_DICT_ENTRY * len(role.accounts)
            for name, held in role.accounts.items():
                total += sys.getsizeof(name)
                if type(held) is tuple:
                    total += _LONE_EVENT
                else:
                    total += held.nbytes()  # type: ignore[union-attr]
        return total

    def update(self, step: int, name_orig: str, name_dest: str, amount: float) -> np.ndarray:
        """Add one event and return its account features (len(definition.features) floats)."""
        row = self._observe(int(step), name_orig, name_dest, to_cents(float(amount)))
        return np.asarray(row, dtype=np.float64)[self._columns]

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
        # The state makes no reference cycles but makes and drops many small containers (an
        # account, its lists and counters), and the full collections they would trigger cost
        # more than the features (400k PaySim rows: 23 full collections, 13 s of 30 s; paused
        # per batch: 3, under 2 s).
        with collector.paused():
            rows = [
                self._observe(s, str(orig), str(dest), c)
                for s, orig, dest, c in zip(steps, name_orig, name_dest, cents, strict=True)
            ]
        if not rows:
            return np.empty((0, len(self.definition.features)), dtype=np.float64)
        return np.asarray(rows, dtype=np.float64)[:, self._columns]

    def _observe(self, step: int, orig: str, dest: str, cents: int) -> list[float]:
        counters = self.counters
        counters.events += 1
        if step > self.clock:
            self.clock = step
            # An account idle past the horizon is dropped before its next event: that event's
            # features are those of a first one either way, and it is held as a lone event.
            for role in self._roles.values():
                role.expire(step - self._horizon, counters)
        elif step < self.clock:
            counters.late_events += 1
        clock, max_accounts = self.clock, self.max_accounts
        row: list[float] = []
        for role, of_origin in self._order:
            if of_origin:
                role.observe(orig, (clock, dest, cents), row)
            else:
                role.observe(dest, (clock, orig, cents), row)
            if len(role.accounts) > max_accounts:
                role.evict(max_accounts, counters)
        return row

    def snapshot(self) -> bytes:
        """The whole state as bytes (zlib-compressed JSON, no pickle): save it with the offsets."""
        roles = {
            key: OrderedDict(
                (name, [held] if type(held) is tuple else held.held_events())  # type: ignore[union-attr]
                for name, held in role.accounts.items()
            )
            for key, role in self._roles.items()
        }
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
            state._roles[key].restore(accounts)
        return state
