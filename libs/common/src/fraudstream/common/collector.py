"""Python's cycle collector in a service: startup's objects frozen out of it, its pauses measured.

A full collection walks every object the collector tracks, and most of a service's are its
libraries' (grpc, protobuf, numpy, pandas, scikit-learn: some 60,000 objects, 15-25 ms a walk on
the CI machine). Under load the bridge ran one every ~8 s, each a pause its in-flight events
waited out (at 5,000 tx/s, the worst second around each one: docs/operations.md#soak).
`freeze_startup()` moves what startup built into the collector's permanent generation, which no
collection walks again; reference counting still frees those objects, and later collections
cost what the service made since.

`PauseCollector` exports each collection's pause as the histogram `python_gc_pause_seconds` by
generation, beside prometheus_client's own `python_gc_collections_total`, so a latency spike
can be told from a collector pause on the dashboard.
"""

from __future__ import annotations

import bisect
import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# Upper bounds (s): a young collection takes under a millisecond, a full one of an unfrozen
# service 15-60 ms.
PAUSE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, float("inf"))
_GENERATIONS = 3


def freeze_startup() -> int:
    """Collect once, then freeze every object that survives; returns how many were frozen.

    Call when startup is done (modules imported, the server built and started): objects made
    later stay collectable. Anything frozen that later forms garbage cycles is not reclaimed, so
    freezing again and again at run time would leak; once per process is the use.
    """
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.debug("froze %d startup objects out of garbage collection", frozen)
    return frozen


@contextmanager
def paused() -> Iterator[None]:
    """Python's cycle collector off for the block (process-wide), on again after it.

    For work that makes and keeps many small objects and no reference cycles (a batch of
    account updates, millions of messages read back into a dict): the full collections their
    allocations trigger would walk everything kept so far, again and again. Reference counting
    still frees everything at once. Nested uses keep it off until the outermost ends.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Pauses:
    """Per generation: how many collections fell in each bucket, and their total seconds.

    Fed by a gc callback, which runs inside the collection in whatever thread triggered it: it
    takes no lock (a lock held by that same thread would deadlock) and only adds to lists, which
    the GIL keeps whole for the reader.
    """

    def __init__(self) -> None:
        self.counts = [[0] * len(PAUSE_BUCKETS) for _ in range(_GENERATIONS)]
        self.sums = [0.0] * _GENERATIONS
        self._began = 0.0

    def on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        elapsed = time.perf_counter() - self._began
        generation = int(info["generation"])
        self.counts[generation][bisect.bisect_left(PAUSE_BUCKETS, elapsed)] += 1
        self.sums[generation] += elapsed


_pauses: _Pauses | None = None


def _process_pauses() -> _Pauses:
    """The one pause record of this process, its callback installed on first use."""
    global _pauses
    if _pauses is None:
        _pauses = _Pauses()
        gc.callbacks.append(_pauses.on_collection)
    return _pauses


class PauseCollector(Collector):
    """`python_gc_pause_seconds{generation}`: this process's collection pauses since it began
    measuring (the first `PauseCollector` made)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._pauses = _process_pauses()
        registry.register(self)

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            "python_gc_pause_seconds",
            "Pauses of Python's cycle collector, by generation (2: a full collection).",
            labels=["generation"],
        )
        for generation in range(_GENERATIONS):
            counts = list(self._pauses.counts[generation])
            cumulative, buckets = 0, []
            for bound, count in zip(PAUSE_BUCKETS, counts, strict=True):
                cumulative += count
                buckets.append((_bound(bound), cumulative))
            family.add_metric([str(generation)], buckets, self._pauses.sums[generation])
        yield family


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def register_collector_metrics(registry: CollectorRegistry) -> None:
    """The collector's counts (prometheus_client's GCCollector) and its pauses on `registry`."""
    GCCollector(registry=registry)
    PauseCollector(registry)
