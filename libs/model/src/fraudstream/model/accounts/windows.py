"""One account's recent events and its running window aggregates, advanced as its steps grow."""

from __future__ import annotations

import logging
from collections import deque

logger = logging.getLogger(__name__)

# One remembered event of an account: (step, counterparty, amount in cents).
Event = tuple[int, str, int]


class AccountWindows:
    """The events of the last `horizon` steps and, per window, its count, cents and counterparties.

    Windows only move forward (steps never go back: late events count at the clock), so each
    event enters and leaves each window once: O(1) amortised work per event, however busy the
    account.
    """

    __slots__ = ("base", "cents", "counterparties", "events", "starts")

    def __init__(self, windows: int) -> None:
        self.events: deque[Event] = deque()
        self.base = 0  # absolute index of events[0]
        self.starts = [0] * windows  # absolute index of each window's oldest event
        self.cents = [0] * windows
        self.counterparties: list[dict[str, int]] = [{} for _ in range(windows)]

    @classmethod
    def from_events(
        cls, events: deque[Event], windows: list[int], distinct: list[bool]
    ) -> AccountWindows:
        """The aggregates of restored events, as of the last one's step."""
        account = cls(len(windows))
        for event in events:
            account.add(event, windows, distinct, horizon=max(windows))
        return account

    def add(self, event: Event, windows: list[int], distinct: list[bool], horizon: int) -> None:
        """Append the event and move every window to end at its step."""
        step, counterparty, cents = event
        events = self.events
        events.append(event)
        for w, window in enumerate(windows):
            start = self.starts[w]
            seen = self.counterparties[w]
            while events[start - self.base][0] < step - window:
                _, old_counterparty, old_cents = events[start - self.base]
                self.cents[w] -= old_cents
                if distinct[w]:
                    left = seen[old_counterparty] - 1
                    if left:
                        seen[old_counterparty] = left
                    else:
                        del seen[old_counterparty]
                start += 1
            self.starts[w] = start
            self.cents[w] += cents
            if distinct[w]:
                seen[counterparty] = seen.get(counterparty, 0) + 1
        while events[0][0] < step - horizon:
            events.popleft()
            self.base += 1

    def count(self, w: int) -> int:
        """Events in window `w` (the last added included)."""
        return self.base + len(self.events) - self.starts[w]

    def last_step(self) -> int:
        """The step of the account's newest event."""
        return self.events[-1][0]
