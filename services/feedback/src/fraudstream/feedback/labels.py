"""The label log's live side: record verdicts, wake followers, serve StreamLabels sessions."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fraudstream.common.errors import FailedPrecondition, InvalidArgument
from fraudstream.feedback.domain import CaseLeased, Label, LabelOutcome, Verdict, VerdictOutcome
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.store import FeedbackStore

logger = logging.getLogger(__name__)

# Most labels sent in one StreamLabelsResponse.
STREAM_BATCH = 256


class LabelLog:
    """Appends verdicts to the durable log and lets readers wait for new entries.

    `appended` is notified after every commit; the publisher and StreamLabels
    sessions wait on it instead of polling the database.
    """

    def __init__(
        self,
        store: FeedbackStore,
        metrics: FeedbackMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self.appended = threading.Condition()
        self._last = store.last_position()
        self._stopping = False
        metrics.label_log_position.set(self._last)

    def record(self, event_id: str, verdict: Verdict, analyst: str, note: str) -> LabelOutcome:
        """Record a verdict (committed on return); only a case's first verdict enters the log.

        CaseLeased when another analyst holds an unexpired lease on the case.
        """
        try:
            outcome = self._store.record_verdict(event_id, verdict, analyst, note, self._clock())
        except CaseLeased:
            self._metrics.refused_verdicts.inc()
            raise
        if outcome.duplicate:
            self._metrics.duplicate_verdicts.inc()
            if outcome.outcome is VerdictOutcome.CONFLICT:
                self._metrics.conflicting_verdicts.inc()
                logger.info(
                    "%s's %s verdict on %s contradicts %s's %s, which stands",
                    analyst,
                    verdict.value,
                    event_id,
                    outcome.labeled_by,
                    outcome.label.value,
                )
            return outcome
        self._metrics.verdicts.labels(verdict.value).inc()
        with self.appended:
            self._last = max(self._last, outcome.position)
            self._metrics.label_log_position.set(self._last)
            self.appended.notify_all()
        return outcome

    @property
    def last_position(self) -> int:
        with self.appended:
            return self._last

    def read_after(self, position: int, limit: int = STREAM_BATCH) -> list[Label]:
        return self._store.labels_after(position, limit)

    def wait_after(
        self, position: int, timeout: float | None, interrupted: Callable[[], bool] = lambda: False
    ) -> bool:
        """Block until the log has an entry after `position`; False on timeout, stop, interrupt."""
        with self.appended:
            self.appended.wait_for(
                lambda: self._last > position or self._stopping or interrupted(), timeout
            )
            return self._last > position and not self._stopping

    def linger(self, seconds: float, interrupted: Callable[[], bool] = lambda: False) -> None:
        """Wait `seconds` while entries may be appended; sooner on stop or interrupt."""
        if seconds > 0:
            with self.appended:
                self.appended.wait_for(lambda: self._stopping or interrupted(), seconds)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Wake every follower so it ends (service shutdown)."""
        with self.appended:
            self._stopping = True
            self.appended.notify_all()

    def wake(self) -> None:
        with self.appended:
            self.appended.notify_all()


@dataclass(frozen=True)
class StartLabels:
    """First message of a label stream: who reads, and the last position it already has."""

    consumer: str
    after_position: int


@dataclass(frozen=True)
class AckLabels:
    """The consumer has durably applied labels up to `position`."""

    position: int


LabelsAction = StartLabels | AckLabels


class LabelStream:
    """One StreamLabels session: the log from a position in order, then live entries."""

    def __init__(
        self,
        log: LabelLog,
        store: FeedbackStore,
        metrics: FeedbackMetrics,
        batch_wait: float = 0.0,
    ) -> None:
        self._log = log
        self._store = store
        self._metrics = metrics
        # Batches leave at most once per `batch_wait` seconds: a label after a quiet spell goes
        # at once, labels coming faster wait for the rest of it and leave together, so the
        # consumer saves its state and acks once per batch, not once per label.
        self._batch_wait = batch_wait
        self._sent_at = -math.inf  # time.monotonic() of the last batch sent
        self._closed = False
        self._sent = 0
        self._consumer = ""

    def close(self) -> None:
        """The client went away: end the stream at the next wake-up."""
        self._closed = True
        self._log.wake()

    def run(self, actions: Iterator[LabelsAction]) -> Iterator[list[Label]]:
        start = next(actions, None)
        if not isinstance(start, StartLabels):
            raise InvalidArgument("the first StreamLabels message must be 'start'")
        if start.after_position < 0:
            raise InvalidArgument(f"start.after_position must be >= 0, got {start.after_position}")
        last = self._log.last_position
        if start.after_position > last:
            raise FailedPrecondition(
                f"consumer has position {start.after_position} but the label log ends at {last};"
                " was the feedback data directory replaced?"
            )
        self._consumer = start.consumer or "anonymous"
        self._sent = start.after_position
        logger.info(
            "label stream for %s from position %d",
            self._consumer,
            self._sent,
            extra={"consumer": self._consumer, "after_position": self._sent},
        )
        threading.Thread(
            target=self._read_acks, args=(actions,), name="labels-acks", daemon=True
        ).start()
        while not self._closed and not self._log.stopping:
            batch = self._log.read_after(self._sent)
            if batch:
                self._sent = batch[-1].position
                self._sent_at = time.monotonic()
                yield batch
                continue
            if self._log.wait_after(self._sent, timeout=None, interrupted=lambda: self._closed):
                due = self._sent_at + self._batch_wait - time.monotonic()
                self._log.linger(due, interrupted=lambda: self._closed)
        logger.info("label stream for %s ended at position %d", self._consumer, self._sent)

    def _read_acks(self, actions: Iterator[LabelsAction]) -> None:
        try:
            for action in actions:
                if isinstance(action, AckLabels):
                    self._ack(action.position)
        except Exception as exc:  # the client's side of the stream broke; the RPC ends anyway
            logger.debug("label stream of %s: reading acks stopped: %s", self._consumer, exc)

    def _ack(self, position: int) -> None:
        if position > self._sent:
            logger.warning(
                "consumer %s acked position %d beyond what was sent (%d); ignored",
                self._consumer,
                position,
                self._sent,
            )
            return
        self._store.set_cursor(f"consumer:{self._consumer}", position, time.time())
        self._metrics.consumer_position.labels(self._consumer).set(position)
