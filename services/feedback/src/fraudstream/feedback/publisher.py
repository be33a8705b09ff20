"""Publishes the label log to Kafka fraud.labels from a persisted cursor, never blocking labels."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from fraudstream.common.kafka import kafka_config
from fraudstream.feedback.domain import Label
from fraudstream.feedback.labels import LabelLog
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.store import FeedbackStore

logger = logging.getLogger(__name__)

# Labels handed to the producer and not yet confirmed; beyond this we wait.
_MAX_IN_FLIGHT = 10_000
_READ_BATCH = 500
# Most seconds between cursor saves while publishing (each is an fsync'd SQLite commit); a
# crash republishes at most this much, which at-least-once consumers dedupe anyway.
_CURSOR_SECONDS = 1.0
# How often a broker-down error is logged (librdkafka repeats it on every retry).
_ERROR_LOG_SECONDS = 30.0


def producer_config(bootstrap: str) -> dict[str, Any]:
    """Producer settings: idempotent (no reordering on retries), all replicas confirm."""
    return kafka_config(
        bootstrap,
        {
            "client.id": "fraudstream-feedback",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
        },
    )


class LabelPublisher:
    """Copies the label log to a Kafka topic in position order (key event_id).

    The log is the source of truth: a thread reads it after the cursor
    `publisher:<topic>` (the highest position confirmed with all before it),
    produces, and moves the cursor as the broker confirms (saved at most once a second, and
    at stop). A crash republishes what the saved cursor does not cover; a failed delivery
    rewinds to it.
    Delivery is at least once: consumers dedupe by event_id or position.
    """

    def __init__(
        self,
        log: LabelLog,
        store: FeedbackStore,
        metrics: FeedbackMetrics,
        *,
        bootstrap: str,
        topic: str,
        encode: Callable[[Label], bytes],
    ) -> None:
        self._log = log
        self._store = store
        self._metrics = metrics
        self._topic = topic
        self._encode = encode
        self._cursor_name = f"publisher:{topic}"
        self._published = store.get_cursor(self._cursor_name)
        self._saved = self._published
        self._saved_at = 0.0  # time.monotonic() of the last cursor save
        self._confirmed: set[int] = set()
        self._in_flight = 0
        self._rewind_to: int | None = None
        self._last_error_log = 0.0
        self._stopping = threading.Event()
        self._producer = Producer(
            {**producer_config(bootstrap), "error_cb": self._on_error, "logger": logger}
        )
        self._thread = threading.Thread(target=self._run, name="label-publisher", daemon=True)
        metrics.published_position.set(self._published)

    @property
    def published_position(self) -> int:
        return self._published

    def start(self) -> None:
        logger.info("publishing labels to %s after position %d", self._topic, self._published)
        self._thread.start()

    def stop(self, flush_timeout: float) -> None:
        """Stop reading the log, give the broker `flush_timeout` s to confirm, save the cursor."""
        self._stopping.set()
        self._log.wake()
        if self._thread.is_alive():
            self._thread.join()
        left = self._producer.flush(flush_timeout)
        self._save_cursor()
        if left:
            logger.warning(
                "%d label(s) unconfirmed by Kafka at shutdown; they are republished on restart",
                left,
            )

    def _run(self) -> None:
        following = self._published
        while not self._stopping.is_set():
            if self._rewind_to is not None:
                following = min(following, self._rewind_to - 1)
                self._rewind_to = None
            room = _MAX_IN_FLIGHT - self._in_flight
            labels = self._log.read_after(following, min(room, _READ_BATCH)) if room > 0 else []
            for label in labels:
                self._produce(label)
                following = label.position
            if self._in_flight:
                self._producer.poll(0.1)  # waits for delivery reports, serves their callbacks
            elif not labels:
                self._log.wait_after(
                    following, timeout=self._cursor_due_in(), interrupted=self._stopping.is_set
                )
            if self._cursor_due_in() == 0:
                self._save_cursor()

    def _cursor_due_in(self) -> float:
        """Seconds until the cursor should be saved (5 when it is saved already)."""
        if self._published == self._saved:
            return 5.0
        return max(0.0, _CURSOR_SECONDS - (time.monotonic() - self._saved_at))

    def _produce(self, label: Label) -> None:
        while True:
            try:
                self._producer.produce(
                    self._topic,
                    key=label.event_id.encode(),
                    value=self._encode(label),
                    headers={"position": str(label.position).encode()},
                    on_delivery=functools.partial(self._on_delivery, label.position),
                )
                self._in_flight += 1
                return
            except BufferError:  # librdkafka's queue is full: let it drain
                self._producer.poll(0.5)

    def _on_delivery(self, position: int, error: KafkaError | None, _message: Message) -> None:
        self._in_flight -= 1
        if error is not None:
            self._metrics.publish_errors.inc()
            self._log_error(f"label {position} not delivered to {self._topic}: {error}")
            self._rewind_to = min(self._rewind_to or position, position)
            return
        if position <= self._published:
            return  # a republished duplicate
        self._metrics.published.inc()
        self._confirmed.add(position)
        while self._published + 1 in self._confirmed:
            self._published += 1
            self._confirmed.discard(self._published)
        self._metrics.published_position.set(self._published)

    def _on_error(self, error: KafkaError) -> None:
        self._log_error(f"Kafka producer: {error}")

    def _log_error(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= _ERROR_LOG_SECONDS:
            self._last_error_log = now
            logger.warning(
                "%s (labels keep being recorded and are published when it recovers)", message
            )

    def _save_cursor(self) -> None:
        if self._published != self._saved:
            self._store.set_cursor(self._cursor_name, self._published, time.time())
            self._saved = self._published
            self._saved_at = time.monotonic()
