"""Produces a batch's messages to Kafka; one future per batch, done when all are delivered."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from fraudstream.ingest.futures import resolved
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.routing import Outgoing

logger = logging.getLogger(__name__)


class Deliveries:
    """Sends messages and produces again any whose delivery fails: never skipped.

    Delivery reports arrive on whichever thread polls the producer (the bridge's poller).
    """

    def __init__(self, producer: Producer, metrics: IngestMetrics) -> None:
        self._producer = producer
        self._metrics = metrics

    def send_all(self, messages: Sequence[Outgoing]) -> Future[None]:
        """Produce `messages`; the future is done once the broker has confirmed every one."""
        if not messages:
            return resolved(None)
        delivered: Future[None] = Future()
        delivered.set_running_or_notify_cancel()
        lock = threading.Lock()
        left = len(messages)

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            nonlocal left
            if err is not None:
                # The broker de-duplicates the idempotent producer's retries.
                logger.warning("delivery to %s failed (%s); producing again", msg.topic(), err)
                self._metrics.produce_retries.inc()
                self._produce(str(msg.topic()), msg.key(), msg.value(), msg.headers(), on_delivery)
                return
            with lock:
                left -= 1
                done = left == 0
            if done:
                delivered.set_result(None)

        for message in messages:
            self._produce(message.topic, message.key, message.value, message.headers, on_delivery)
        return delivered

    def _produce(self, topic: str, key: Any, value: Any, headers: Any, on_delivery: Any) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers, on_delivery=on_delivery)
                return
            except BufferError:
                # The local queue is full: serve delivery reports until there is room.
                self._producer.poll(0.05)
