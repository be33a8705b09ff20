"""Prometheus metrics of the ingest bridge, created once and passed in."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fraudstream.common.grpc_errors import GrpcMetrics

# Finer from 5 ms to 250 ms, where the bridge's p50 and p99 live at steady load: a quantile is
# interpolated inside one bucket, and with factor-2 buckets a p99 near 50 ms read anywhere from
# 50 to 120 ms (the soak's minutes); with these, within about 1.5x.
_LATENCY_SECONDS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.035, 0.05,
    0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30,
)  # fmt: skip
_BATCH_SIZES = (1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class IngestMetrics:
    """Every metric the bridge exports, on one registry (the first three keep the seed's names)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry if registry is not None else CollectorRegistry()
        self.grpc = GrpcMetrics(r)
        self.events_in = Counter(
            "stream_events_in_total", "Messages consumed from the transactions topic.", registry=r
        )
        self.events_anomaly = Counter(
            "stream_events_anomaly_total",
            "Transactions scored REVIEW or BLOCK (alerts raised).",
            registry=r,
        )
        self.last_latency_ms = Gauge(
            "stream_last_process_latency_ms",
            "Kafka timestamp to routed, in milliseconds, of the newest event of the last batch.",
            registry=r,
        )
        self.event_latency = Histogram(
            "ingest_event_latency_seconds",
            "Time from an event's Kafka timestamp to its score being routed (delivery confirmed).",
            buckets=_LATENCY_SECONDS,
            registry=r,
        )
        self.batch_size = Histogram(
            "ingest_batch_size",
            "Transactions per batch sent to the scorer.",
            buckets=_BATCH_SIZES,
            registry=r,
        )
        self.in_flight = Gauge(
            "ingest_in_flight_batches", "Batches consumed and not yet fully routed.", registry=r
        )
        self.in_flight_events = Gauge(
            "ingest_in_flight_events",
            "Events (messages consumed) in the batches not yet fully routed.",
            registry=r,
        )
        self.paused = Gauge(
            "ingest_fetch_paused",
            "1 while fetching is paused because the window is full.",
            registry=r,
        )
        self.routed = Counter(
            "ingest_events_routed_total",
            "Messages produced (delivery confirmed before the offset commit), by topic.",
            ["topic"],
            registry=r,
        )
        self.dead_letters = Counter(
            "ingest_dead_letters_total",
            "Messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.alerts_reported = Counter(
            "ingest_alerts_reported_total",
            "Cases acked by the feedback service, by kind and outcome.",
            ["kind", "status"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "ingest_consumer_lag",
            "Messages behind the end of the partition, per partition.",
            ["partition"],
            registry=r,
        )
        self.reconnects = Counter(
            "ingest_reconnects_total",
            "Streams re-opened after a failure, by peer.",
            ["peer"],
            registry=r,
        )
        self.scorer_batches = Counter(
            "ingest_scorer_batches_total",
            "Batches sent to each scorer (a batch moved after a failover counts again).",
            ["scorer"],
            registry=r,
        )
        self.scorer_connected = Gauge(
            "ingest_scorer_connected",
            "1 while the StreamScores stream to this scorer is open.",
            ["scorer"],
            registry=r,
        )
        self.commits = Counter(
            "ingest_offset_commits_total", "Offset commits after fully routed batches.", registry=r
        )
        self.assigned_partitions = Gauge(
            "ingest_assigned_partitions",
            "Partitions of the transactions topic this bridge holds (0: health NOT_SERVING).",
            registry=r,
        )
        self.stalled = Gauge(
            "ingest_stalled",
            "1 while events wait and none has been routed for --stall-seconds (health "
            "NOT_SERVING).",
            registry=r,
        )
        self.last_progress = Gauge(
            "ingest_last_progress_timestamp_seconds",
            "Unix time at which the bridge last routed a batch.",
            registry=r,
        )
        self.produce_retries = Counter(
            "ingest_produce_retries_total",
            "Messages produced again after a failed delivery.",
            registry=r,
        )
        # The embedded account state (ingest/accounts.py), over the partitions held.
        self.account_state_accounts = Gauge(
            "ingest_account_state_accounts",
            "Accounts held in the embedded account state (origins and destinations).",
            registry=r,
        )
        self.account_state_bytes = Gauge(
            "ingest_account_state_bytes",
            "Estimated memory of the embedded account state over the partitions held, as of "
            "each partition's last snapshot (containers and names, CPython sizes).",
            registry=r,
        )
        self.account_evictions = Counter(
            "ingest_account_state_evictions_total",
            "Accounts dropped by the cap while still inside a window (their history restarts).",
            registry=r,
        )
        self.account_expired = Counter(
            "ingest_account_state_expired_total",
            "Accounts dropped after idling past the longest window (the TTL; no feature changes).",
            registry=r,
        )
        self.consumer_replaced = Counter(
            "ingest_consumer_replaced_total",
            "Kafka consumers replaced after losing every partition and getting none back.",
            registry=r,
        )
        self.account_replayed = Counter(
            "ingest_account_state_replayed_total",
            "Events fed to a restored account state only, routed before the restart.",
            registry=r,
        )
        self.account_snapshot_seconds = Histogram(
            "ingest_account_snapshot_seconds",
            "Time to save one partition's account state.",
            buckets=_LATENCY_SECONDS,
            registry=r,
        )
        self.account_snapshot_bytes = Gauge(
            "ingest_account_snapshot_bytes", "Size of the last account snapshot saved.", registry=r
        )

    def show_window(self, batches: int, events: int) -> None:
        """The in-flight window's size: batches and the events in them."""
        self.in_flight.set(batches)
        self.in_flight_events.set(events)


def observe_all(histogram: Histogram, amounts: Sequence[float] | np.ndarray) -> None:
    """`histogram.observe(a)` for every amount, as one update per bucket (one call per event
    cost 2.5 µs, about an eighth of the bridge's CPU per transaction). Only for histograms
    without labels or exemplars; it goes through prometheus_client's own bucket counters,
    as observe() does."""
    if not len(amounts):
        return
    values = np.asarray(amounts, dtype=np.float64)
    bounds = histogram._upper_bounds  # ascending, the last +Inf
    # observe() counts an amount in the first bucket whose bound is >= it.
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    histogram._sum.inc(float(values.sum()))
    for bucket, count in zip(histogram._buckets, counts.tolist(), strict=True):
        if count:
            bucket.inc(count)
