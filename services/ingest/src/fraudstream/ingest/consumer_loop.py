"""The bridge's consumer loop: consume, batch, keep a bounded window, commit what is routed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from fraudstream.common.codec import DecodeError, content_type, decode_transaction
from fraudstream.ingest.batch import Batch, Rejected
from fraudstream.ingest.holdings import Holdings
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.progress import Progress
from fraudstream.ingest.rejoin import retire
from fraudstream.ingest.window import BatchFailed, InFlightWindow
from fraudstream.v1.transaction_pb2 import Transaction

if TYPE_CHECKING:
    from fraudstream.ingest.accounts import PartitionAccounts
    from fraudstream.ingest.rejoin import Rejoin

logger = logging.getLogger(__name__)

# A window full for longer than this (scorer or feedback down, say) pauses the partitions, so
# the consumer keeps polling (group membership) without fetching.
PAUSE_AFTER_SECONDS = 2.0


class ConsumerLoop:
    """Consumes `topic` in batches, hands each to `submit_batch` (which returns the future of
    its routing), and commits the offsets of the routed prefix of the window.

    Rebalances are cooperative (incremental): the callbacks get only the partitions that move.
    Before revoked partitions leave, the window is drained (within `drain_seconds`) and what is
    routed is committed; offsets are only ever committed for partitions this bridge holds.
    """

    def __init__(
        self,
        consumer: Consumer,
        topic: str,
        metrics: IngestMetrics,
        submit_batch: Callable[[Batch], Future[None]],
        batch_size: int,
        batch_wait_ms: float,
        max_in_flight: int,
        progress: Progress,
        drain_seconds: float,
        max_in_flight_events: int | None = None,
        accounts: PartitionAccounts | None = None,
        decode: Callable[[bytes, str | None], Transaction] = decode_transaction,
        rejoin: Rejoin | None = None,
    ) -> None:
        self._consumer = consumer
        self._topic = topic
        self._metrics = metrics
        self._submit_batch = submit_batch
        self._batch_size = batch_size
        self._batch_wait = batch_wait_ms / 1000.0
        self.window = InFlightWindow(max_in_flight, max_in_flight_events)
        self._seq = 0
        self._held = Holdings(metrics)
        self._progress = progress
        self._drain_seconds = drain_seconds
        self._closing = False
        self._stop = threading.Event()
        # The embedded account state (None: features come with the messages, or none at all).
        self._accounts = accounts
        self._decode = decode
        self._rejoin = rejoin

    @property
    def consumer(self) -> Consumer:  # replaced when it lost its partitions for good
        return self._consumer

    # --- the consumer thread -------------------------------------------------------------

    def run(self, stop: threading.Event, drain_seconds: float) -> None:
        """Consume until `stop` is set, then drain the window for at most `drain_seconds` and
        commit what is routed. The caller closes the consumer after."""
        self._subscribe()
        self._stop = stop
        buffered: list[Message] = []
        first_at = full_since = 0.0
        try:
            while not stop.is_set():
                if self._rejoin is not None and self._rejoin.due():
                    self._replace_consumer("no partition back since they were lost")
                self._commit_routed()
                if self.window.full():
                    full_since = full_since or time.monotonic()
                    messages = []
                    if time.monotonic() - full_since < PAUSE_AFTER_SECONDS:
                        # A short wait: stop consuming and keep librdkafka's (bounded) prefetch;
                        # pausing would purge it and cost a fetch round trip per batch.
                        self.window.wait_for_change(0.05)
                    else:
                        self._held.pause(self._consumer)
                        # poll() keeps group membership and rebalance callbacks alive; a message
                        # it returns (from a partition assigned meanwhile) is kept, not dropped.
                        messages = [m for m in [self._consumer.poll(0)] if m is not None]
                        if not messages:
                            self.window.wait_for_change(0.05)
                else:
                    full_since = 0.0
                    self._held.resume(self._consumer)
                    if buffered:
                        wait = self._batch_wait - (time.monotonic() - first_at)
                        messages = self._consumer.consume(
                            num_messages=self._batch_size - len(buffered), timeout=max(wait, 0.0)
                        )
                    else:
                        # A batch's first event as soon as it comes: consume() would wait for
                        # a whole batch (51 ms of events at 10k tx/s) before the batch wait ran.
                        messages = [m for m in [self._consumer.poll(0.1)] if m is not None]
                for message in messages:
                    error = message.error()
                    if error is not None and (error.fatal() or error.code() == KafkaError._FATAL):
                        if self._rejoin is not None and self._rejoin.lost and not self._held:
                            # Fenced by its own rejoin (rejoin.py): a fresh consumer.
                            self._replace_consumer(f"it failed after the loss: {error}")
                            break
                        # Another live bridge joined with this group instance id, or another
                        # unrecoverable state: the service fails and exits 1.
                        raise KafkaException(error)
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
            # From here the consumer closes: its final revocation must not wait again.
            self._closing = True

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
                transaction = self._decode(value, content_type(message.headers()))
            except DecodeError as exc:
                batch.rejected.append(Rejected(source, message.key(), value, exc.reason, str(exc)))
                continue
            batch.transactions.append(transaction)
            batch.sources.append(source)
        if self._accounts is not None:
            self._accounts.enrich(batch)
        routed = self._submit_batch(batch)
        routed.add_done_callback(self._on_routed)
        self.window.add(batch, routed)
        self._metrics.show_window(len(self.window), self.window.events)

    def _on_routed(self, routed: Future[None]) -> None:
        if routed.exception() is None:
            self._progress.routed()

    def _commit_routed(self, asynchronous: bool = True) -> None:
        try:
            offsets, done = self.window.take_committable()
        except BatchFailed as exc:
            if not self._closing:
                raise
            # Stopping: the streams ended before this batch was routed; it is consumed again.
            logger.warning("%s; it will be consumed again", exc)
            return
        if not done:
            return
        self._metrics.show_window(len(self.window), self.window.events)
        # Only partitions held now: a batch routed after its partition moved to another bridge
        # must not move that bridge's committed offset.
        partitions = [
            TopicPartition(t, p, o) for (t, p), o in offsets.items() if (t, p) in self._held
        ]
        if not partitions:
            return
        confirmed: list[TopicPartition] | None = None
        try:
            if asynchronous:
                # Its result comes to the consumer's on_commit (the account state's pruning).
                self._consumer.commit(offsets=partitions, asynchronous=True)
            else:
                confirmed = self._consumer.commit(offsets=partitions, asynchronous=False)
            self._metrics.commits.inc()
        except Exception as exc:  # a failed commit only means redelivery
            logger.warning("offset commit failed (%s); those events may be consumed again", exc)
            return
        if self._accounts is not None:
            self._accounts.committed(partitions)
            if confirmed:
                self._accounts.confirmed(p for p in confirmed if p.error is None)

    def _drain_and_commit(self, timeout: float, abort: threading.Event | None = None) -> None:
        if not self.window.wait_routed(timeout, abort):
            logger.warning(
                "%d batches not routed within %.1fs; they will be consumed again",
                len(self.window),
                timeout,
            )
        self._commit_routed(asynchronous=False)

    def _subscribe(self) -> None:
        on = {"on_assign": self._on_assign, "on_revoke": self._on_revoke, "on_lost": self._on_lost}
        self._consumer.subscribe([self._topic], **on)

    def _replace_consumer(self, why: str) -> None:
        assert self._rejoin is not None and not self._held
        self._metrics.consumer_replaced.inc()
        # The new one first (the old one's callbacks while closing are ignored), subscribed after.
        old, self._consumer = self._consumer, self._rejoin.replace(why)
        retire(old)
        self._subscribe()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if consumer is not self._consumer:
            return  # a replaced consumer, closing
        if self._rejoin is not None:
            self._rejoin.assigned()
        logger.info("assigned partitions %s", sorted(p.partition for p in partitions))
        if self._accounts is not None:
            # Each partition resumes where its restored account state left off.
            partitions = self._accounts.assign(consumer, partitions)
        self._held.add(consumer, partitions)
        self._progress.assigned([p.partition for p in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if consumer is not self._consumer:
            return
        logger.info("partitions %s revoked", sorted(p.partition for p in partitions))
        if self._closing:
            self._commit_routed(asynchronous=False)
        else:
            # Drain everything in flight (simpler than picking the revoked partitions' batches,
            # and quick while the scorer answers), then commit while these are still ours.
            # A stop ends this wait: the stop's own drain, bounded by the grace period, follows.
            self._drain_and_commit(self._drain_seconds, abort=self._stop)
        if self._accounts is not None:
            self._accounts.revoke(partitions)
        self._forget(consumer, partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Lost (session expired, fenced): another bridge may own them already; commit nothing.
        if consumer is not self._consumer:
            return
        logger.warning("partitions %s lost", sorted(p.partition for p in partitions))
        if self._accounts is not None:
            self._accounts.lose(partitions)
        self._forget(consumer, partitions)
        if self._rejoin is not None and not self._held:
            self._rejoin.lost_all()

    def _forget(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._held.drop(consumer, partitions)
        self._progress.revoked([p.partition for p in partitions])
