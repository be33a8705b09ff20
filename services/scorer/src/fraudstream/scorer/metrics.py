"""Prometheus metrics of the scorer service, created once and passed in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fraudstream.common.grpc_errors import GrpcMetrics

_BATCH_SIZES = (1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096)
_LATENCIES = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class ScorerMetrics:
    """Every metric the scorer exports, on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.grpc = GrpcMetrics(self.registry)
        r = self.registry
        self.batches = Counter("scorer_batches_total", "Batches scored.", registry=r)
        self.transactions = Counter(
            "scorer_transactions_total", "Transactions scored (valid ones).", registry=r
        )
        self.invalid = Counter(
            "scorer_invalid_transactions_total",
            "Transactions refused with a per-item error, by offending field.",
            ["field"],
            registry=r,
        )
        self.batch_size = Histogram(
            "scorer_batch_size", "Transactions per scored batch.", buckets=_BATCH_SIZES, registry=r
        )
        self.latency = Histogram(
            "scorer_batch_latency_seconds",
            "Time to score one batch (features, three detectors, risk, reasons).",
            buckets=_LATENCIES,
            registry=r,
        )
        self.decisions = Counter(
            "scorer_decisions_total", "Decisions made, by kind.", ["decision"], registry=r
        )
        for decision in ("allow", "review", "block"):  # at 0 from the start: rate() sees the first
            self.decisions.labels(decision)
        self.model_version = Gauge(
            "scorer_model_snapshot_version",
            "Online snapshot version being served (0: the bundle's own classifier).",
            registry=r,
        )
        self.model_loaded = Gauge(
            "scorer_model_loaded", "1 when a model bundle is loaded and serving.", registry=r
        )
        self.model_loaded_timestamp = Gauge(
            "scorer_model_loaded_timestamp_seconds",
            "Unix time the current model (bundle or snapshot) was applied.",
            registry=r,
        )
        self.snapshots_applied = Counter(
            "scorer_snapshots_applied_total", "Snapshots from the learner now served.", registry=r
        )
        self.snapshots_rejected = Counter(
            "scorer_snapshots_rejected_total",
            "Snapshots from the learner refused (the current model kept serving).",
            registry=r,
        )
        self.learner_connected = Gauge(
            "scorer_learner_connected", "1 while the SyncModels stream is open.", registry=r
        )
