"""Assembles the bridge from its settings: Kafka clients, scorer and feedback streams, the flow."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
from confluent_kafka import Consumer, Producer

from fraudstream.common.kafka import kafka_config
from fraudstream.common.transport import Transport
from fraudstream.ingest.accounts import account_wiring
from fraudstream.ingest.batch_flow import BatchFlow
from fraudstream.ingest.consumer_loop import ConsumerLoop
from fraudstream.ingest.delivery import Deliveries
from fraudstream.ingest.feedback_client import FeedbackClient
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.progress import Progress, report_lag
from fraudstream.ingest.rejoin import Rejoin
from fraudstream.ingest.routing import Routes
from fraudstream.ingest.scorer_client import ScorerClient
from fraudstream.ingest.scorers import ScorerPool, scorer_addresses
from fraudstream.ingest.settings import IngestSettings
from fraudstream.ingest.streams import OrderedStream
from fraudstream.v1 import feedback_service_pb2_grpc, scoring_service_pb2_grpc

logger = logging.getLogger(__name__)
_LIBRDKAFKA_LOGGER = logging.getLogger("fraudstream.ingest.librdkafka")
# Of the stop budget (the grace period), what is kept for closing the consumer and flushing the
# producer after the window's drain.
_CLOSE_RESERVE_SECONDS = 2.0


def _score_stream(channel: grpc.Channel, requests: Iterator[Any]) -> Iterator[Any]:
    return scoring_service_pb2_grpc.ScoringServiceStub(channel).StreamScores(requests)  # type: ignore[no-any-return,return-value]


def _alert_stream(channel: grpc.Channel, requests: Iterator[Any]) -> Iterator[Any]:
    return feedback_service_pb2_grpc.FeedbackServiceStub(channel).ReportAlerts(requests)  # type: ignore[no-any-return,return-value]


def consumer_config(settings: IngestSettings, metrics: IngestMetrics, progress: Progress) -> dict:
    """The bridge's Kafka consumer settings (each consumer it makes, if it replaces one)."""
    return kafka_config(
        settings.kafka_bootstrap,
        {
            "group.id": settings.group_id,
            # Static membership: a restarted bridge with the same id gets its partitions
            # back at once instead of after the dead member's session timeout.
            "group.instance.id": settings.member_id(),
            "session.timeout.ms": settings.session_timeout_ms,
            # Cooperative rebalances move only the partitions that change owner; the others
            # keep flowing.
            "partition.assignment.strategy": "cooperative-sticky",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # Bounded prefetch: what librdkafka may hold while the window is full.
            "queued.max.messages.kbytes": 16384,
            "statistics.interval.ms": 5000,
            "stats_cb": functools.partial(report_lag, metrics, progress, settings.consumed_topic()),
            "logger": _LIBRDKAFKA_LOGGER,
        },
    )


class IngestBridge:
    """Everything the bridge process runs besides its health server."""

    def __init__(self, settings: IngestSettings, metrics: IngestMetrics) -> None:
        self._stop_seconds = settings.grace_seconds
        self._transport = Transport.from_settings(settings)
        # The window holds at most max_in_flight_events events plus the batch that crossed the
        # bound, each producing at most two messages (its score, and an alert or audit case):
        # the producer never needs more.
        window_events = min(
            settings.max_in_flight_events + settings.batch_size,
            settings.max_in_flight * settings.batch_size,
        )
        window_messages = 2 * window_events
        self._producer = Producer(
            kafka_config(
                settings.kafka_bootstrap,
                {
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": settings.producer_linger_ms,
                    "compression.type": settings.producer_compression,
                    # Bounded while the broker is away (librdkafka's defaults are 100k messages and
                    # 1 GB); a full queue makes produce() wait, and the window stops consuming.
                    "queue.buffering.max.messages": window_messages + 1024,
                    "queue.buffering.max.kbytes": 65536,
                    "logger": _LIBRDKAFKA_LOGGER,
                },
            )
        )
        self.progress = Progress(metrics, settings.stall_seconds)
        accounts = account_wiring(settings, metrics)
        # The embedded account state prunes its snapshots on confirmed commits (on_commit).
        extra = accounts["accounts"].consumer_config() if "accounts" in accounts else {}
        rejoin = Rejoin(
            lambda: Consumer({**consumer_config(settings, metrics, self.progress), **extra}),
            settings.rejoin_seconds,
        )
        self._streams: list[OrderedStream[Any, Any] | ScorerPool] = []
        scorers = ScorerPool(
            scorer_addresses(settings.scorer_addr),
            _score_stream,
            metrics,
            max_backoff=settings.reconnect_max_seconds,
            channel_factory=self._transport.channel,
            resolve_seconds=settings.scorer_resolve_seconds,
        )
        self._streams.append(scorers)
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
            ScorerClient(scorers),
            Deliveries(self._producer, metrics),
            feedback,
            metrics,
            routes,
            settings.audit_sample_rate,
            settings.seed,
        )
        self.loop = ConsumerLoop(
            rejoin.new_consumer(),
            settings.consumed_topic(),
            metrics,
            flow.submit,
            settings.batch_size,
            settings.batch_wait_ms,
            settings.max_in_flight,
            self.progress,
            max_in_flight_events=settings.max_in_flight_events,
            drain_seconds=settings.grace_seconds,
            **accounts,
            rejoin=rejoin if settings.rejoin_seconds > 0 else None,
        )
        self.progress.in_flight = lambda: len(self.loop.window)
        self._stop_polling = threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Run until `stop`; then, within the grace period: drain in-flight batches, commit,
        close the consumer and the streams, flush the producer."""
        # Delivery reports (and so the end of each batch) arrive on this poller's thread.
        poller = threading.Thread(target=self._poll_producer, name="producer-poll", daemon=True)
        poller.start()
        for stream in self._streams:
            stream.start()
        try:
            self.loop.run(stop, max(self._stop_seconds - _CLOSE_RESERVE_SECONDS, 0.5))
        finally:
            deadline = time.monotonic() + _CLOSE_RESERVE_SECONDS
            self.loop.consumer.close()
            for stream in self._streams:
                stream.stop()
            self._stop_polling.set()
            poller.join(timeout=1)
            left = self._producer.flush(max(deadline - time.monotonic(), 0.1))
            if left:
                logger.warning("%d messages not delivered at shutdown", left)
            logger.info("bridge stopped")

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
            channel_factory=self._transport.channel,
        )
        self._streams.append(stream)
        return stream

    def _poll_producer(self) -> None:
        while not self._stop_polling.is_set():
            self._producer.poll(0.05)
