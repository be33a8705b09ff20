"""Prometheus metrics of the scorer service, created once and passed in."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from fraudstream.common.grpc_errors import GrpcMetrics
from fraudstream.model.drift import risk_histogram

_BATCH_SIZES = (1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096)
_SHADOW_LATENCIES = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01)
# Risk bins of the per-model risk histograms, the same fixed-width bins the PSI is taken over.
RISK_BINS = 10
MODELS = ("champion", "challenger")
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
        self.model_decisions = Counter(
            "scorer_model_decisions_total",
            "Decisions by model: the champion's (served, the same as scorer_decisions_total) "
            "and the challenger's (scored in the shadow, never served).",
            ["model", "decision"],
            registry=r,
        )
        for model in MODELS:
            for decision in ("allow", "review", "block"):
                self.model_decisions.labels(model, decision)
        self.risk = RiskHistograms(registry=r)
        self.risk_psi = Gauge(
            "scorer_risk_psi",
            "Population stability index of the champion's risks: the most recent window "
            "against the first window after start (NaN until both are full).",
            registry=r,
        )
        self.risk_psi.set(math.nan)
        self.shadow_latency = Histogram(
            "scorer_shadow_latency_seconds",
            "Time the challenger's shadow pass adds to a batch.",
            buckets=_SHADOW_LATENCIES,
            registry=r,
        )
        self.challenger_version = Gauge(
            "scorer_challenger_snapshot_version",
            "Version of the challenger held for shadow scoring (0: none received).",
            registry=r,
        )
        self.challengers = Counter(
            "scorer_challenger_snapshots_total",
            "Challenger snapshots from the learner, by result (applied: now scored in the "
            "shadow; rejected: refused, the previous one kept).",
            ["result"],
            registry=r,
        )
        for result in ("applied", "rejected"):
            self.challengers.labels(result)


class RiskHistograms(Collector):
    """scorer_model_risk{model}: a histogram of risks per model, counted with numpy a batch at
    a time (prometheus_client's observe() is a locked call per value, too slow per row).

    Bins are [k/10, (k+1)/10) with 1.0 in the last, so a risk exactly on an edge counts in
    the bucket above it, unlike Prometheus's `le`; risks are continuous, the difference nil.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        self._counts = {model: np.zeros(RISK_BINS, dtype=np.int64) for model in MODELS}
        self._sums = dict.fromkeys(MODELS, 0.0)
        registry.register(self)

    def observe(self, model: str, risk: np.ndarray) -> None:
        counts = risk_histogram(risk, RISK_BINS)
        total = float(np.sum(risk[np.isfinite(risk)]))
        with self._lock:
            self._counts[model] += counts
            self._sums[model] += total

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            "scorer_model_risk",
            "Risks given by each model: the champion (served) and the challenger (shadow).",
            labels=["model"],
        )
        with self._lock:
            for model in MODELS:
                cumulative = np.cumsum(self._counts[model]).tolist()
                edges = [f"{(k + 1) / RISK_BINS:g}" for k in range(RISK_BINS - 1)] + ["+Inf"]
                family.add_metric(
                    [model], list(zip(edges, cumulative, strict=True)), self._sums[model]
                )
        yield family
