"""Where each scored event goes: scores, alerts, audit cases and dead letters."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from confluent_kafka import KafkaError, Message, Producer

from fraudstream.common import names
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.window import Batch
from fraudstream.v1 import alert_pb2, score_pb2
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

ALERT_DECISIONS = (score_pb2.DECISION_REVIEW, score_pb2.DECISION_BLOCK)
AlertSubmit = Callable[[Batch, list[alert_pb2.Alert]], None]


@dataclass(frozen=True)
class Routes:
    """The topics the bridge reads and writes (DESIGN.md's names unless configured)."""

    transactions: str = names.TRANSACTIONS
    scored: str = names.TRANSACTIONS_SCORED
    alerts: str = names.FRAUD_ALERTS
    dlq: str = names.TRANSACTIONS_DLQ


Headers = list[tuple[str, str | bytes | None]]


def dead_letter_headers(reason: str, message: str, source: tuple[str, int, int]) -> Headers:
    """Headers of a dead letter: why, and where the original message was."""
    topic, partition, offset = source
    return [
        ("dlq.reason", reason.encode()),
        ("dlq.message", message.encode()),
        ("dlq.source.topic", topic.encode()),
        ("dlq.source.partition", str(partition).encode()),
        ("dlq.source.offset", str(offset).encode()),
    ]


class Router:
    """Produces every outcome of a batch and releases the batch's holds as deliveries confirm."""

    def __init__(
        self,
        producer: Producer,
        metrics: IngestMetrics,
        audit_sample_rate: float,
        seed: int = 0,
        routes: Routes | None = None,
    ) -> None:
        self.routes = routes or Routes()
        self._producer = producer
        self._metrics = metrics
        self._audit_rate = audit_sample_rate
        self._rng = np.random.default_rng(seed or None)
        self._rng_lock = threading.Lock()
        self.submit_alerts: AlertSubmit | None = None

    def produce(
        self,
        batch: Batch,
        topic: str,
        key: bytes | str | None,
        value: bytes,
        headers: Headers | None = None,
    ) -> None:
        """Produce one message for `batch`; the batch stays held until it is delivered."""
        batch.hold()
        if batch.on_delivery is None:
            batch.on_delivery = self._delivery_callback(batch)
        self._produce(topic, value, key, headers, batch.on_delivery)

    def _produce(self, topic: str, value: Any, key: Any, headers: Any, callback: Any) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers, on_delivery=callback)
                return
            except BufferError:
                # The local queue is full: serve delivery reports until there is room.
                self._producer.poll(0.05)

    def _delivery_callback(self, batch: Batch) -> Callable[[KafkaError | None, Message], None]:
        """One delivery callback per batch: release on success, produce again on failure."""

        def delivered(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                batch.release()
                return
            # Never skip: produce again (the broker de-duplicates idempotent retries).
            logger.warning("delivery to %s failed (%s); producing again", msg.topic(), err)
            self._metrics.produce_retries.inc()
            self._produce(str(msg.topic()), msg.value(), msg.key(), msg.headers(), delivered)

        return delivered

    def dead_letter(
        self,
        batch: Batch,
        reason: str,
        message: str,
        source: tuple[str, int, int],
        key: Any,
        value: bytes | None,
    ) -> None:
        self._metrics.dead_letters.labels(reason).inc()
        self._metrics.routed.labels(self.routes.dlq).inc()
        self.produce(
            batch,
            self.routes.dlq,
            key,
            value or b"",
            headers=dead_letter_headers(reason, message, source),
        )

    def route_scores(self, batch: Batch, scores: Sequence[score_pb2.Score]) -> None:
        """Route a batch's scores; called once per batch, in order, by the scorer stream."""
        alerts: list[alert_pb2.Alert] = []
        scored = flagged = 0
        transactions: list[Transaction] = batch.transactions
        audit = self._audit_draws(len(scores))
        for index, (transaction, score) in enumerate(zip(transactions, scores, strict=True)):
            if score.HasField("error"):
                self.dead_letter(
                    batch,
                    f"invalid_{score.error.field or 'transaction'}",
                    score.error.message,
                    batch.sources[index],
                    transaction.name_orig,
                    transaction.SerializeToString(),
                )
                continue
            self.produce(batch, self.routes.scored, score.event_id, score.SerializeToString())
            scored += 1
            if score.decision in ALERT_DECISIONS:
                flagged += 1
                alert = alert_pb2.Alert(
                    transaction=transaction, score=score, kind=alert_pb2.ALERT_KIND_ALERT
                )
                alert.alert_time.GetCurrentTime()
                self.produce(batch, self.routes.alerts, score.event_id, alert.SerializeToString())
                alerts.append(alert)
            elif audit[index]:
                alert = alert_pb2.Alert(
                    transaction=transaction, score=score, kind=alert_pb2.ALERT_KIND_AUDIT
                )
                alert.alert_time.GetCurrentTime()
                alerts.append(alert)
        self._metrics.routed.labels(self.routes.scored).inc(scored)
        self._metrics.routed.labels(self.routes.alerts).inc(flagged)
        self._metrics.events_anomaly.inc(flagged)
        if alerts and self.submit_alerts is not None:
            batch.hold()  # released when the feedback service acks them
            self.submit_alerts(batch, alerts)

    def _audit_draws(self, n: int) -> np.ndarray:
        """Which of n rows to send to analysts as audit cases if the model allows them."""
        if not self._audit_rate:
            return np.zeros(n, dtype=bool)
        with self._rng_lock:
            return self._rng.random(n) < self._audit_rate
