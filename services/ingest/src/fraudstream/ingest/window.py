"""Batches in flight and the offsets that are safe to commit (every earlier batch routed)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future

from fraudstream.ingest.batch import Batch, TopicPartition

logger = logging.getLogger(__name__)


class BatchFailed(RuntimeError):
    """A batch can never be routed (a broken contract, say); its offsets must not be committed."""


class InFlightWindow:
    """At most `capacity` batches and about `max_events` events (messages consumed) between
    consumption and routing, committed in order.

    Each batch comes with the future of its routing; the window only reads those futures.
    Batches leave it in order, so one slow batch holds back the routed ones behind it: the
    batch count is what bounds that wait at moderate rates (small batches), the event count
    what bounds memory at full batches.
    """

    def __init__(self, capacity: int, max_events: int | None = None) -> None:
        self.capacity = capacity
        self.max_events = max_events
        self._batches: deque[tuple[Batch, Future[None]]] = deque()
        self._events = 0
        self._changed = threading.Condition()

    def __len__(self) -> int:
        with self._changed:
            return len(self._batches)

    @property
    def events(self) -> int:
        """Messages consumed in the batches of the window."""
        with self._changed:
            return self._events

    def full(self) -> bool:
        with self._changed:
            if len(self._batches) >= self.capacity:
                return True
            return self.max_events is not None and self._events >= self.max_events

    def add(self, batch: Batch, routed: Future[None]) -> None:
        with self._changed:
            self._batches.append((batch, routed))
            self._events += len(batch.timestamps_ms)
        routed.add_done_callback(self._notify)

    def take_committable(self) -> tuple[dict[TopicPartition, int], list[Batch]]:
        """Next offsets to commit for the routed prefix of the window, and those batches.

        Raises BatchFailed when the oldest batch failed: nothing from it on can be committed.
        """
        offsets: dict[TopicPartition, int] = {}
        done: list[Batch] = []
        with self._changed:
            while self._batches and self._batches[0][1].done():
                batch, routed = self._batches[0]
                error = routed.exception()
                if error is not None and done:
                    break  # commit the prefix before it first; the next call raises
                if error is not None:
                    raise BatchFailed(f"batch {batch.batch_id} failed: {error!r}") from error
                self._batches.popleft()
                self._events -= len(batch.timestamps_ms)
                offsets.update(batch.next_offsets)
                done.append(batch)
            if done:
                self._changed.notify_all()
        return offsets, done

    def wait_for_change(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def wait_routed(self, timeout: float, abort: threading.Event | None = None) -> bool:
        """Wait until every batch in the window is done (not yet taken); False on timeout or
        once `abort` is set (checked every 0.1 s)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(routed.done() for _batch, routed in self._batches):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (abort is not None and abort.is_set()):
                    return False
                self._changed.wait(min(remaining, 0.1) if abort is not None else remaining)
        return True

    def _notify(self, _routed: Future[None]) -> None:
        with self._changed:
            self._changed.notify_all()
