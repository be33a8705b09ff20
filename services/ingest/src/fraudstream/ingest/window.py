"""Batches in flight and the offsets that are safe to commit (every earlier batch fully routed)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

TopicPartition = tuple[str, int]


@dataclass(eq=False)
class Batch:
    """Consumed messages on their way through the pipeline.

    `hold()` registers one piece of outstanding work (the scorer's answer, one delivery, the
    feedback service's ack); the batch is routed when every hold has been released.
    """

    seq: int
    batch_id: str
    next_offsets: dict[TopicPartition, int]
    transactions: list[Transaction] = field(default_factory=list)
    sources: list[tuple[str, int, int]] = field(default_factory=list)
    timestamps_ms: list[int] = field(default_factory=list)
    on_delivery: Any = None
    _pending: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _on_routed: Any = None

    def hold(self, count: int = 1) -> None:
        with self._lock:
            self._pending += count

    def release(self, count: int = 1) -> None:
        with self._lock:
            self._pending -= count
            routed = self._pending == 0
        if routed and self._on_routed is not None:
            self._on_routed(self)


class InFlightWindow:
    """At most `capacity` batches between consumption and full routing, committed in order."""

    def __init__(self, capacity: int, on_routed: Callable[[Batch], None] | None = None) -> None:
        self.capacity = capacity
        self._on_routed = on_routed
        self._batches: deque[Batch] = deque()
        self._routed: set[int] = set()
        self._changed = threading.Condition()

    def __len__(self) -> int:
        with self._changed:
            return len(self._batches)

    def full(self) -> bool:
        return len(self) >= self.capacity

    def add(self, batch: Batch) -> None:
        batch._on_routed = self._mark_routed
        with self._changed:
            self._batches.append(batch)

    def _mark_routed(self, batch: Batch) -> None:
        if self._on_routed is not None:
            self._on_routed(batch)
        with self._changed:
            self._routed.add(batch.seq)
            self._changed.notify_all()

    def take_committable(self) -> tuple[dict[TopicPartition, int], list[Batch]]:
        """Next offsets to commit for the routed prefix of the window, and those batches."""
        offsets: dict[TopicPartition, int] = {}
        done: list[Batch] = []
        with self._changed:
            while self._batches and self._batches[0].seq in self._routed:
                batch = self._batches.popleft()
                self._routed.discard(batch.seq)
                offsets.update(batch.next_offsets)
                done.append(batch)
            if done:
                self._changed.notify_all()
        return offsets, done

    def wait_for_change(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def wait_routed(self, timeout: float) -> bool:
        """Wait until every batch in the window is routed (not yet taken); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while any(b.seq not in self._routed for b in self._batches):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True
