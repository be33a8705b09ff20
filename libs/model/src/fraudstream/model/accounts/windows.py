"""One account's recent steps and its running window aggregates, advanced as its steps grow."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

# One remembered event of an account: (step, counterparty, amount in cents).
Event = tuple[int, str, int]
# The events of one account at one step, merged: [step, count, cents, counterparties], where
# counterparties is the one counterparty's name while the step holds a single event, else a
# counterparty -> events map. Windows move by whole steps, so a step's events leave together.
Bucket = list


class AccountWindows:
    """The account's events of the last `horizon` steps, merged per step, and per window its
    count, cents and counterparties.

    Memory is bounded by the steps and distinct counterparties in the horizon, not by the
    events: an account paid a thousand times in one step by the same sender holds one bucket.
    Windows only move forward (steps never go back: late events count at the clock), so each
    step enters and leaves each window once: O(1) amortised work per event. `windows` is sorted,
    so the last window starts first and bounds what is kept.
    """

    __slots__ = ("base", "buckets", "cents", "counterparties", "counts", "prev_step", "starts")

    def __init__(self, distinct: list[bool]) -> None:
        self.buckets: list[Bucket] = []
        self.base = 0  # absolute index of buckets[0]
        self.starts = [0] * len(distinct)  # absolute index of each window's oldest bucket
        self.counts = [0] * len(distinct)
        self.cents = [0] * len(distinct)
        # Counterparty -> events in the window; only for windows a distinct feature reads.
        self.counterparties: list[dict[str, int] | None] = [{} if d else None for d in distinct]
        self.prev_step = 0  # the step of the event before the last one added

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
        """Add the event and move every window to end at its step."""
        step, counterparty, cents = event
        buckets, base, starts = self.buckets, self.base, self.starts
        counts, sums, seen_by_window = self.counts, self.cents, self.counterparties
        last = buckets[-1] if buckets else None
        if last is not None and last[0] == step:
            self.prev_step = step
            last[1] += 1
            last[2] += cents
            merged = last[3]
            if type(merged) is str:
                merged = last[3] = {merged: 1}
            merged[counterparty] = merged.get(counterparty, 0) + 1
        else:
            if last is not None:
                self.prev_step = last[0]
            buckets.append([step, 1, cents, counterparty])
        for w, window in enumerate(windows):
            start = starts[w]
            seen = seen_by_window[w]
            lower = step - window
            while buckets[start - base][0] < lower:
                _, old_count, old_cents, old = buckets[start - base]
                counts[w] -= old_count
                sums[w] -= old_cents
                if seen is not None:
                    for name, k in ((old, 1),) if type(old) is str else old.items():
                        left = seen[name] - k
                        if left:
                            seen[name] = left
                        else:
                            del seen[name]
                start += 1
            starts[w] = start
            counts[w] += 1
            sums[w] += cents
            if seen is not None:
                seen[counterparty] = seen.get(counterparty, 0) + 1
        # Steps before the longest window's start are never read again; drop them in bulk.
        unused = starts[-1] - base
        if unused and 2 * unused >= len(buckets):
            del buckets[:unused]
            self.base = starts[-1]

    def count(self, w: int) -> int:
        """Events in window `w` (the last added included)."""
        return self.counts[w]

    def distinct(self, w: int) -> int:
        """Distinct counterparties in window `w` (a window a distinct feature reads)."""
        seen = self.counterparties[w]
        return len(seen) if seen is not None else 0

    def held_events(self) -> list[Event]:
        """Events equivalent to those inside the longest window: all a snapshot needs.

        A merged step comes back as one event per counterparty meeting, the first carrying the
        step's cents and the others none: added again they make the same counts, sums and
        counterparties, which is all any feature reads.
        """
        events: list[Event] = []
        for step, _count, cents, merged in self.buckets[self.starts[-1] - self.base :]:
            if type(merged) is str:
                events.append((step, merged, cents))
                continue
            for name, k in merged.items():
                for _ in range(k):
                    events.append((step, name, cents))
                    cents = 0
        return events

    def last_step(self) -> int:
        """The step of the account's newest event."""
        return int(self.buckets[-1][0])

    def nbytes(self) -> int:
        """About what the account costs in memory (its containers, not the shared names)."""
        size = _OBJECT + _LIST * 4 + _POINTER * (len(self.buckets) + 4 * len(self.starts))
        size += len(self.buckets) * (_LIST + 4 * _POINTER + _INT)
        for bucket in self.buckets:
            if type(bucket[3]) is dict:
                size += _DICT + _DICT_ENTRY * len(bucket[3])
        for seen in self.counterparties:
            if seen is not None:
                size += _DICT + _DICT_ENTRY * len(seen)
        return size


# CPython 3.11 sizes (sys.getsizeof) used by `nbytes`: a slotted object, an empty list, a
# pointer, an int beyond the small-int cache, an empty dict and a dict entry (table share).
_OBJECT, _LIST, _POINTER, _INT, _DICT, _DICT_ENTRY = 72, 56, 8, 32, 64, 40
