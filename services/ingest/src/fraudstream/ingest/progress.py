"""Whether the bridge holds partitions and makes progress: the truth its health reports."""

from __future__ import annotations

import enum
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from fraudstream.common.health_watch import Condition
from fraudstream.ingest.metrics import IngestMetrics


class BridgeState(enum.Enum):
    """What the bridge is doing, as health sees it."""

    UNASSIGNED = "holds no partition"
    STALLED = "stalled"
    SERVING = "serving"


class Progress:
    """Partitions held, their lag, and the last moment the bridge made progress.

    Progress is routing a batch, or having nothing to do (no lag, no batch in flight, every
    partition fetching): an idle bridge is healthy. With work waiting and no batch routed for
    `stall_seconds`, it is stalled.
    Updated from the consumer thread (assignments, lag) and the threads that finish batches.
    """

    def __init__(
        self,
        metrics: IngestMetrics,
        stall_seconds: float,
        in_flight: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        self.stall_seconds = stall_seconds
        # Batches in the window (set by the bridge once its window exists).
        self.in_flight = in_flight
        self._clock = clock
        self._lock = threading.Lock()
        self._lags: dict[int, int | None] = {}
        self._progress_at = clock()

    def assigned(self, partitions: list[int]) -> None:
        """Partitions newly assigned: the stall clock starts when the first ones arrive."""
        with self._lock:
            if not self._lags:
                self._progress_at = self._clock()
            for partition in partitions:
                self._lags.setdefault(partition, 0)
            self._metrics.assigned_partitions.set(len(self._lags))

    def revoked(self, partitions: list[int]) -> None:
        """Partitions revoked or lost: their lag is another bridge's now."""
        with self._lock:
            for partition in partitions:
                self._lags.pop(partition, None)
            self._metrics.assigned_partitions.set(len(self._lags))

    def lag(self, partition: int, lag: int | None) -> None:
        """Messages behind the end of an assigned partition (librdkafka statistics); None for a
        partition that has not fetched since it was assigned: work may wait there unseen."""
        with self._lock:
            if partition in self._lags:
                self._lags[partition] = lag

    def routed(self) -> None:
        """A batch was routed (its scores and alerts delivered)."""
        self._metrics.last_progress.set(time.time())
        with self._lock:
            self._progress_at = self._clock()

    def state(self) -> BridgeState:
        """UNASSIGNED, STALLED (work waits, nothing routed for stall_seconds) or SERVING."""
        waiting = self.in_flight() > 0
        with self._lock:
            if not self._lags:
                state = BridgeState.UNASSIGNED
            else:
                now = self._clock()
                unknown_or_behind = any(lag is None or lag > 0 for lag in self._lags.values())
                if not waiting and not unknown_or_behind:
                    self._progress_at = now
                stalled = now - self._progress_at > self.stall_seconds
                state = BridgeState.STALLED if stalled else BridgeState.SERVING
        self._metrics.stalled.set(1 if state is BridgeState.STALLED else 0)
        return state


def bridge_condition(progress: Progress) -> Condition:
    """The bridge's health: SERVING exactly while it holds partitions and is not stalled."""
    state = progress.state()
    if state is BridgeState.STALLED:
        return Condition(
            False,
            f"stalled: events wait but none was routed for {progress.stall_seconds:.0f}s",
            fault=True,
        )
    return Condition(state is BridgeState.SERVING, f"bridge {state.value}")


def report_lag(metrics: IngestMetrics, progress: Progress, topic: str, stats_json: str) -> None:
    """librdkafka statistics callback: per-partition consumer lag of `topic`."""
    stats: dict[str, Any] = json.loads(stats_json)
    partitions = stats.get("topics", {}).get(topic, {}).get("partitions", {})
    for partition, info in partitions.items():
        if partition == "-1" or info.get("fetch_state") == "none":
            continue
        lag = info.get("consumer_lag", -1)
        if lag >= 0:
            metrics.consumer_lag.labels(partition).set(lag)
            progress.lag(int(partition), lag)
        elif max(info.get("hi_offset", -1), info.get("ls_offset", -1)) < 0:
            # No end offset: nothing fetched since it was assigned (a partition left paused,
            # say). Not idle: health must not call it SERVING for long.
            progress.lag(int(partition), None)
