"""Assembles the bridge from its settings: Kafka clients, scorer and feedback streams, the flow."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from typing import Any

import grpc
from confluent_kafka import Consumer, Producer

from fraudstream.ingest.batch_flow import BatchFlow
from fraudstream.ingest.consumer_loop import ConsumerLoop, report_lag
from fraudstream.ingest.delivery import Deliveries
from fraudstream.ingest.feedback_client import FeedbackClient
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.routing import Routes
from fraudstream.ingest.scorer_client import ScorerClient
from fraudstream.ingest.settings import IngestSettings
from fraudstream.ingest.streams import OrderedStream
from fraudstream.v1 import feedback_service_pb2_grpc, scoring_service_pb2_grpc

logger = logging.getLogger(__name__)
_LIBRDKAFKA_LOGGER = logging.getLogger("fraudstream.ingest.librdkafka")


def _score_stream(channel: grpc.Channel, requests: Iterator[Any]) -> Iterator[Any]:
    return scoring_service_pb2_grpc.ScoringServiceStub(channel).StreamScores(requests)  # type: ignore[no-any-return,return-value]


def _alert_stream(channel: grpc.Channel, requests: Iterator[Any]) -> Iterator[Any]:
    return feedback_service_pb2_grpc.FeedbackServiceStub(channel).ReportAlerts(requests)  # type: ignore[no-any-return,return-value]


class IngestBridge:
    """Everything the bridge process runs besides its health server."""

    def __init__(self, settings: IngestSettings, metrics: IngestMetrics) -> None:
        self._producer = Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 2,
                "compression.type": "lz4",
                "logger": _LIBRDKAFKA_LOGGER,
            }
        )
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": settings.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # Bounded prefetch: what librdkafka may hold while the window is full.
                "queued.max.messages.kbytes": 16384,
                "statistics.interval.ms": 5000,
                "stats_cb": functools.partial(report_lag, metrics, settings.transactions_topic),
                "logger": _LIBRDKAFKA_LOGGER,
            }
        )
        self._streams: list[OrderedStream[Any, Any]] = []
        score_stream = self._stream(
            "scorer", settings.scorer_addr, _score_stream, settings, metrics
        )
        feedback = None
        if settings.feedback_addr:
            alert_stream = self._stream(
                "feedback", settings.feedback_addr, _alert_stream, settings, metrics
            )
            feedback = FeedbackClient(alert_stream, metrics)
        routes = Routes(
            transactions=settings.transactions_topic,
            scored=settings.scored_topic,
            alerts=settings.alerts_topic,
            dlq=settings.dlq_topic,
        )
        flow = BatchFlow(
            ScorerClient(score_stream),
            Deliveries(self._producer, metrics),
            feedback,
            metrics,
            routes,
            settings.audit_sample_rate,
            settings.seed,
        )
        self.loop = ConsumerLoop(
            self._consumer,
            settings.transactions_topic,
            metrics,
            flow.submit,
            settings.batch_size,
            settings.batch_wait_ms,
            settings.max_in_flight,
        )
        self._stop_polling = threading.Event()

    @property
    def running(self) -> threading.Event:
        """Set while the consumer loop runs (subscribed)."""
        return self.loop.running

    def run(self, stop: threading.Event, drain_seconds: float) -> None:
        """Run until `stop`; then drain in-flight batches, commit, close."""
        # Delivery reports (and so the end of each batch) arrive on this poller's thread.
        poller = threading.Thread(target=self._poll_producer, name="producer-poll", daemon=True)
        poller.start()
        for stream in self._streams:
            stream.start()
        try:
            self.loop.run(stop, drain_seconds)
        finally:
            for stream in self._streams:
                stream.stop()
            self._consumer.close()
            self._stop_polling.set()
            poller.join(timeout=5)
            left = self._producer.flush(10)
            if left:
                logger.warning("%d messages not delivered at shutdown", left)

    def _stream(
        self,
        peer: str,
        address: str,
        open_call: Any,
        settings: IngestSettings,
        metrics: IngestMetrics,
    ) -> OrderedStream[Any, Any]:
        stream: OrderedStream[Any, Any] = OrderedStream(
            peer,
            address,
            open_call,
            on_reconnect=metrics.reconnects.labels(peer).inc,
            max_backoff=settings.reconnect_max_seconds,
        )
        self._streams.append(stream)
        return stream

    def _poll_producer(self) -> None:
        while not self._stop_polling.is_set():
            self._producer.poll(0.05)
