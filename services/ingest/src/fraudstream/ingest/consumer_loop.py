"""The bridge's consumer loop: consume, batch, keep a bounded window, commit what is routed."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from fraudstream.common.codec import CONTENT_TYPE_HEADER, DecodeError, decode_transaction
from fraudstream.ingest.batch import Batch, Rejected
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.window import InFlightWindow

logger = logging.getLogger(__name__)

# How long a rebalance or a shutdown waits for in-flight batches before giving up on them
# (they are then consumed again by whoever owns the partition: at-least-once).
DRAIN_SECONDS = 20.0
# A window full for longer than this (scorer or feedback down, say) pauses the partitions, so
# the consumer keeps polling (group membership) without fetching.
PAUSE_AFTER_SECONDS = 2.0


class ConsumerLoop:
    """Consumes `topic` in batches, hands each to `submit_batch` (which returns the future of
    its routing), and commits the offsets of the routed prefix of the window."""

    def __init__(
        self,
        consumer: Consumer,
        topic: str,
        metrics: IngestMetrics,
        submit_batch: Callable[[Batch], Future[None]],
        batch_size: int,
        batch_wait_ms: float,
        max_in_flight: int,
    ) -> None:
        self._consumer = consumer
        self._topic = topic
        self._metrics = metrics
        self._submit_batch = submit_batch
        self._batch_size = batch_size
        self._batch_wait = batch_wait_ms / 1000.0
        self.window = InFlightWindow(max_in_flight)
        self._seq = 0
        self._paused = False
        self._assignment: list[TopicPartition] = []
        self.running = threading.Event()

    # --- the consumer thread -------------------------------------------------------------

    def run(self, stop: threading.Event, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Consume until `stop` is set, then drain the window and commit."""
        self._consumer.subscribe(
            [self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        self.running.set()
        buffered: list[Message] = []
        first_at = full_since = 0.0
        try:
            while not stop.is_set():
                self._commit_routed()
                if self.window.full():
                    full_since = full_since or time.monotonic()
                    messages = []
                    if time.monotonic() - full_since < PAUSE_AFTER_SECONDS:
                        # A short wait: stop consuming and keep librdkafka's (bounded) prefetch;
                        # pausing would purge it and cost a fetch round trip per batch.
                        self.window.wait_for_change(0.05)
                    else:
                        self._pause()
                        # poll() keeps group membership and rebalance callbacks alive; a message
                        # it returns (from a partition assigned meanwhile) is kept, not dropped.
                        messages = [m for m in [self._consumer.poll(0)] if m is not None]
                        if not messages:
                            self.window.wait_for_change(0.05)
                else:
                    full_since = 0.0
                    self._resume()
                    wait = self._batch_wait - (time.monotonic() - first_at) if buffered else 0.1
                    messages = self._consumer.consume(
                        num_messages=self._batch_size - len(buffered), timeout=max(wait, 0.0)
                    )
                for message in messages:
                    error = message.error()
                    if error is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            logger.warning("consumer error: %s", error)
                        continue
                    if not buffered:
                        first_at = time.monotonic()
                    buffered.append(message)
                full = len(buffered) >= self._batch_size
                waited = time.monotonic() - first_at >= self._batch_wait
                if buffered and (full or waited) and not (self.window.full() and not full):
                    self._dispatch(buffered)
                    buffered = []
        finally:
            if buffered:
                self._dispatch(buffered)
            self._drain_and_commit(drain_seconds)
            self.running.clear()

    def _dispatch(self, messages: list[Message]) -> None:
        self._seq += 1
        batch = Batch(seq=self._seq, batch_id=f"b{self._seq}")
        self._metrics.events_in.inc(len(messages))
        for message in messages:
            source = (
                str(message.topic()),
                int(message.partition() or 0),
                int(message.offset() or 0),
            )
            batch.next_offsets[(source[0], source[1])] = source[2] + 1
            _kind, timestamp = message.timestamp()
            batch.timestamps_ms.append(timestamp)
            value = message.value() or b""
            try:
                transaction = decode_transaction(value, _header(message, CONTENT_TYPE_HEADER))
            except DecodeError as exc:
                batch.rejected.append(Rejected(source, message.key(), value, exc.reason, str(exc)))
                continue
            batch.transactions.append(transaction)
            batch.sources.append(source)
        self.window.add(batch, self._submit_batch(batch))
        self._metrics.in_flight.set(len(self.window))

    def _commit_routed(self, asynchronous: bool = True) -> None:
        offsets, done = self.window.take_committable()
        if not done:
            return
        self._metrics.in_flight.set(len(self.window))
        partitions = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            if asynchronous:
                self._consumer.commit(offsets=partitions, asynchronous=True)
            else:
                self._consumer.commit(offsets=partitions, asynchronous=False)
            self._metrics.commits.inc()
        except Exception as exc:  # a failed commit only means redelivery
            logger.warning("offset commit failed (%s); those events may be consumed again", exc)

    def _drain_and_commit(self, timeout: float) -> None:
        if not self.window.wait_routed(timeout):
            logger.warning(
                "%d batches not routed within %.0fs; they will be consumed again",
                len(self.window),
                timeout,
            )
        self._commit_routed(asynchronous=False)

    # --- flow control and rebalances -------------------------------------------------------

    def _pause(self) -> None:
        if not self._paused and self._assignment:
            self._consumer.pause(self._assignment)
            self._paused = True
            self._metrics.paused.set(1)

    def _resume(self) -> None:
        if self._paused:
            self._consumer.resume(self._assignment)
            self._paused = False
            self._metrics.paused.set(0)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        logger.info("assigned partitions %s", sorted(p.partition for p in partitions))
        self._assignment = list(partitions)
        self._paused = False

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        logger.info("partitions %s revoked; draining", sorted(p.partition for p in partitions))
        self._drain_and_commit(DRAIN_SECONDS)
        for partition in partitions:
            # Another bridge reports these partitions' lag from now on.
            self._metrics.consumer_lag.remove(str(partition.partition))
        self._assignment = []
        self._paused = False


def report_lag(metrics: IngestMetrics, topic: str, stats_json: str) -> None:
    """librdkafka statistics callback: per-partition consumer lag of `topic`."""
    stats: dict[str, Any] = json.loads(stats_json)
    partitions = stats.get("topics", {}).get(topic, {}).get("partitions", {})
    for partition, info in partitions.items():
        lag = info.get("consumer_lag", -1)
        if partition != "-1" and lag >= 0:
            metrics.consumer_lag.labels(partition).set(lag)


def _header(message: Message, name: str) -> str | None:
    headers: Any = message.headers() or []
    for key, value in headers:
        if key == name and value is not None:
            return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return None
