"""Assembles the bridge: Kafka consumer and producer, the scorer and feedback streams, routing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import grpc
from confluent_kafka import Consumer, Producer

from fraudstream.ingest.bridge import Bridge
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.router import Router, Routes
from fraudstream.ingest.settings import IngestSettings
from fraudstream.ingest.streams import OrderedStream
from fraudstream.ingest.window import Batch
from fraudstream.v1 import (
    alert_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    scoring_service_pb2,
    scoring_service_pb2_grpc,
)

logger = logging.getLogger(__name__)

_KIND = {alert_pb2.ALERT_KIND_ALERT: "alert", alert_pb2.ALERT_KIND_AUDIT: "audit"}
_STATUS = {
    feedback_service_pb2.ACK_STATUS_ACCEPTED: "accepted",
    feedback_service_pb2.ACK_STATUS_DUPLICATE: "duplicate",
    feedback_service_pb2.ACK_STATUS_REJECTED: "rejected",
}


def _score_stream(channel: grpc.Channel, requests: Iterator[Any]) -> Iterator[Any]:
    return scoring_service_pb2_grpc.ScoringServiceStub(channel).StreamScores(requests)  # type: ignore[no-any-return,return-value]


def _alert_stream(channel: grpc.Channel, requests: Iterator[Any]) -> Iterator[Any]:
    return feedback_service_pb2_grpc.FeedbackServiceStub(channel).ReportAlerts(requests)  # type: ignore[no-any-return,return-value]


class IngestPipeline:
    """Everything the bridge process runs besides its health server."""

    def __init__(self, settings: IngestSettings, metrics: IngestMetrics) -> None:
        self._metrics = metrics
        self._producer = Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 2,
                "compression.type": "lz4",
                "logger": logging.getLogger("fraudstream.ingest.librdkafka"),
            }
        )
        routes = Routes(
            transactions=settings.transactions_topic,
            scored=settings.scored_topic,
            alerts=settings.alerts_topic,
            dlq=settings.dlq_topic,
        )
        self._router = Router(
            self._producer, metrics, settings.audit_sample_rate, settings.seed, routes
        )
        self.scorer = OrderedStream(
            "scorer",
            settings.scorer_addr,
            _score_stream,
            self._on_scores,
            on_reconnect=lambda: metrics.reconnects.labels("scorer").inc(),
            max_backoff=settings.reconnect_max_seconds,
        )
        self.feedback = (
            OrderedStream(
                "feedback",
                settings.feedback_addr,
                _alert_stream,
                self._on_acks,
                on_reconnect=lambda: metrics.reconnects.labels("feedback").inc(),
                max_backoff=settings.reconnect_max_seconds,
            )
            if settings.feedback_addr
            else None
        )
        if self.feedback is not None:
            self._router.submit_alerts = self._submit_alerts
        self.bridge: Bridge
        consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": settings.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # Bounded prefetch: what librdkafka may hold while the window is full.
                "queued.max.messages.kbytes": 16384,
                "statistics.interval.ms": 5000,
                "stats_cb": lambda stats: self.bridge.update_lag(stats),
                "logger": logging.getLogger("fraudstream.ingest.librdkafka"),
            }
        )
        self.bridge = Bridge(
            consumer,
            self._router,
            metrics,
            self._submit_batch,
            settings.batch_size,
            settings.batch_wait_ms,
            settings.max_in_flight,
        )
        self._consumer = consumer
        self._stop_polling = threading.Event()

    def run(self, stop: threading.Event, drain_seconds: float) -> None:
        """Run until `stop`; then drain in-flight batches, commit, close."""
        poller = threading.Thread(target=self._poll_producer, name="producer-poll", daemon=True)
        poller.start()
        self.scorer.start()
        if self.feedback is not None:
            self.feedback.start()
        try:
            self.bridge.run(stop, drain_seconds)
        finally:
            self.scorer.stop()
            if self.feedback is not None:
                self.feedback.stop()
            self._consumer.close()
            self._stop_polling.set()
            poller.join(timeout=5)
            left = self._producer.flush(10)
            if left:
                logger.warning("%d messages not delivered at shutdown", left)

    def _poll_producer(self) -> None:
        while not self._stop_polling.is_set():
            self._producer.poll(0.05)

    def _submit_batch(self, batch: Batch) -> None:
        request = scoring_service_pb2.StreamScoresRequest(
            batch_id=batch.batch_id, transactions=batch.transactions, include_features=True
        )
        self.scorer.submit(batch, request)

    def _on_scores(self, batch: Batch, response: scoring_service_pb2.StreamScoresResponse) -> None:
        if response.batch_id != batch.batch_id or len(response.scores) != len(batch.transactions):
            raise RuntimeError(
                f"scorer answered batch {response.batch_id} ({len(response.scores)} scores) "
                f"for {batch.batch_id} ({len(batch.transactions)} transactions)"
            )
        self._router.route_scores(batch, response.scores)
        batch.release()

    def _submit_alerts(self, batch: Batch, alerts: list[alert_pb2.Alert]) -> None:
        assert self.feedback is not None
        request = feedback_service_pb2.ReportAlertsRequest(alerts=alerts)
        self.feedback.submit((batch, alerts), request)

    def _on_acks(
        self,
        token: tuple[Batch, list[alert_pb2.Alert]],
        response: feedback_service_pb2.ReportAlertsResponse,
    ) -> None:
        batch, alerts = token
        for alert, ack in zip(alerts, response.acks, strict=False):
            status = _STATUS.get(ack.status, "unknown")
            self._metrics.alerts_reported.labels(_KIND.get(alert.kind, "unknown"), status).inc()
            if ack.status == feedback_service_pb2.ACK_STATUS_REJECTED:
                logger.warning("feedback rejected alert %s: %s", ack.event_id, ack.message)
        batch.release()
