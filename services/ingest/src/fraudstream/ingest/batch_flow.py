"""A consumed batch's way to routed: score, route, produce, report, as one line of futures."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future

import numpy as np

from fraudstream.ingest.batch import Batch
from fraudstream.ingest.delivery import Deliveries
from fraudstream.ingest.feedback_client import FeedbackClient
from fraudstream.ingest.futures import all_of, resolved, then
from fraudstream.ingest.metrics import IngestMetrics, observe_all
from fraudstream.ingest.routing import Outcomes, Routes, route
from fraudstream.ingest.scorer_client import Scored, ScorerClient

logger = logging.getLogger(__name__)


class BatchFlow:
    """The core of the bridge, apart from Kafka consumption: `submit(batch)` takes a batch from
    consumed to routed and returns the future of that."""

    def __init__(
        self,
        scorer: ScorerClient,
        deliveries: Deliveries,
        feedback: FeedbackClient | None,
        metrics: IngestMetrics,
        routes: Routes,
        audit_sample_rate: float,
        seed: int = 0,
    ) -> None:
        self._scorer = scorer
        self._deliveries = deliveries
        self._feedback = feedback
        self._metrics = metrics
        self._routes = routes
        self._audit_rate = audit_sample_rate
        self._rng = np.random.default_rng(seed or None)
        self._rng_lock = threading.Lock()

    def submit(self, batch: Batch) -> Future[None]:
        """Score `batch`, then route it; the future is done when the batch is routed."""
        if batch.transactions:
            self._metrics.batch_size.observe(len(batch.transactions))
            scores = self._scorer.score(batch.batch_id, batch.transactions)
        else:
            scores = resolved([])
        routed = then(scores, lambda scored: self._publish(batch, scored))
        routed.add_done_callback(lambda done: self._observe_latency(batch, done))
        return routed

    def _publish(self, batch: Batch, scores: Scored) -> Future[None]:
        outcomes = route(
            batch, scores, self._routes, self._audit_draws(len(scores)), self._audit_rate
        )
        self._count(outcomes)
        delivered = self._deliveries.send_all(outcomes.messages)
        acked = resolved(None)
        if outcomes.cases and self._feedback is not None:
            acked = self._feedback.report(outcomes.cases)
        # The completion rule: a batch is routed once every message it produced is delivered
        # and the feedback service has acked its cases. Only then may its offsets be committed.
        return then(all_of([delivered, acked]), lambda _: resolved(None))

    def _count(self, outcomes: Outcomes) -> None:
        for topic in (self._routes.scored, self._routes.alerts):
            self._metrics.routed.labels(topic).inc(outcomes.per_topic()[topic])
        for reason in outcomes.dead_letter_reasons:
            self._metrics.dead_letters.labels(reason).inc()
            self._metrics.routed.labels(self._routes.dlq).inc()
        self._metrics.events_anomaly.inc(outcomes.flagged)

    def _audit_draws(self, n: int) -> list[bool]:
        """Which of n rows to send to analysts as audit cases if the model allows them."""
        if not self._audit_rate:
            return [False] * n
        with self._rng_lock:
            return (self._rng.random(n) < self._audit_rate).tolist()  # type: ignore[no-any-return]

    def _observe_latency(self, batch: Batch, routed: Future[None]) -> None:
        """Event latency: Kafka timestamp to the moment the batch was routed."""
        if routed.exception() is not None or not batch.timestamps_ms:
            return
        now_ms = time.time() * 1000.0
        waited = np.maximum(now_ms - np.asarray(batch.timestamps_ms, dtype=np.float64), 0.0)
        observe_all(self._metrics.event_latency, waited / 1000.0)
        self._metrics.last_latency_ms.set(max(now_ms - max(batch.timestamps_ms), 0.0))
