"""One account's recent events and its running window aggregates, advanced as its steps grow."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

# One remembered event of an account: (step, counterparty, amount in cents).
Event = tuple[int, str, int]


class AccountWindows:
    """The events of the last `horizon` steps and, per window, its count, cents and counterparties.

    Windows only move forward (steps never go back: late events count at the clock), so each
    event enters and leaves each window once: O(1) amortised work per event, however busy the
    account. `windows` is sorted, so the last window starts first and bounds what is kept.
    """

    __slots__ = ("base", "cents", "counterparties", "events", "starts")

    def __init__(self, distinct: list[bool]) -> None:
        self.events: list[Event] = []
        self.base = 0  # absolute index of events[0]
        self.starts = [0] * len(distinct)  # absolute index of each window's oldest event
        self.cents = [0] * len(distinct)
        # Counterparty -> events in the window; only for windows a distinct feature reads.
        self.counterparties: list[dict[str, int] | None] = [{} if d else None for d in distinct]

    @classmethod
    def from_events(
        cls, events: list[Event], windows: list[int], distinct: list[bool]
    ) -> AccountWindows:
        """The aggregates of restored events, as of the last one's step."""
        account = cls(distinct)
        for event in events:
            account.add(event, windows)
        return account

    def add(self, event: Event, windows: list[int]) -> None:
        """Append the event and move every window to end at its step."""
        step, counterparty, cents = event
        events, base, starts, sums = self.events, self.base, self.starts, self.cents
        events.append(event)
        for w, window in enumerate(windows):
            start = starts[w]
            seen = self.counterparties[w]
            while events[start - base][0] < step - window:
                _, old_counterparty, old_cents = events[start - base]
                sums[w] -= old_cents
                if seen is not None:
                    left = seen[old_counterparty] - 1
                    if left:
                        seen[old_counterparty] = left
                    else:
                        del seen[old_counterparty]
                start += 1
            starts[w] = start
            sums[w] += cents
            if seen is not None:
                seen[counterparty] = seen.get(counterparty, 0) + 1
        # Events before the longest window's start are never read again; drop them in bulk.
        unused = starts[-1] - base
        if unused and 2 * unused >= len(events):
            del events[:unused]
            self.base = starts[-1]

    def count(self, w: int) -> int:
        """Events in window `w` (the last added included)."""
        return self.base + len(self.events) - self.starts[w]

    def distinct(self, w: int) -> int:
        """Distinct counterparties in window `w` (a window a distinct feature reads)."""
        seen = self.counterparties[w]
        return len(seen) if seen is not None else 0

    def held_events(self) -> list[Event]:
        """The events inside the longest window: all a snapshot needs."""
        return self.events[self.starts[-1] - self.base :]

    def last_step(self) -> int:
        """The step of the account's newest event."""
        return self.events[-1][0]
