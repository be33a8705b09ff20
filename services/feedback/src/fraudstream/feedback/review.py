"""The review queue: cases leased to analysts highest risk first, and one analyst's session."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from fraudstream.common.errors import InvalidArgument
from fraudstream.feedback.domain import AlertRecord, Case, CasePage, CaseState, Verdict
from fraudstream.feedback.labels import LabelLog
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.store import FeedbackStore

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_PREFETCH = 100
# Longest a waiting session sleeps without news (a safety net; wake-ups are notified).
_MAX_WAIT_SECONDS = 30.0


class ReviewQueue:
    """Open cases, highest risk first, each leased to at most one review session at a time.

    Leases live in the store, so exclusivity holds across sessions: a case is
    leased inside one write transaction only if it is OPEN. A lease that runs
    out returns its case to the queue. `changed` is notified whenever cases may
    have become available (new alerts, skips, released leases).
    """

    def __init__(
        self,
        store: FeedbackStore,
        labels: LabelLog,
        metrics: FeedbackMetrics,
        lease_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.labels = labels
        self.metrics = metrics
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.changed = threading.Condition()
        self.version = 0
        self.stopping = False
        metrics.watch_cases(
            lambda: store.queue_counts(clock())[0], lambda: store.queue_counts(clock())[1]
        )

    def notify(self) -> None:
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    def stop(self) -> None:
        """End every review session at its next wake-up (service shutdown)."""
        with self.changed:
            self.stopping = True
            self.changed.notify_all()

    def add_alerts(self, records: Sequence[AlertRecord]) -> list[bool]:
        """Store alerts durably; per record True if new, False for a known event_id."""
        stored = self.store.add_alerts(records, self.clock())
        for record, new in zip(records, stored, strict=True):
            outcome = "accepted" if new else "duplicate"
            self.metrics.alerts.labels(record.kind.value, outcome).inc()
        if any(stored):
            self.notify()
        return stored

    def expire_leases(self) -> int:
        expired = self.store.expire_leases(self.clock())
        if expired:
            self.metrics.lease_expiries.inc(expired)
            logger.info("%d case lease(s) expired, back in the queue", expired)
            self.notify()
        return expired

    def lease_next(self, holder: str, analyst: str, exclude: set[str]) -> Case | None:
        self.expire_leases()
        return self.store.lease_next(
            holder, analyst, self.clock() + self.lease_seconds, exclude=exclude
        )

    def release(self, holder: str, event_ids: list[str] | None = None) -> int:
        released = self.store.release(holder, event_ids)
        if released:
            self.notify()
        return released

    def list_cases(self, state: CaseState | None, page_size: int, page_token: str) -> CasePage:
        """One page of cases, highest risk first; `page_token` continues a listing."""
        if page_size < 0:
            raise InvalidArgument(f"page_size must be >= 0, got {page_size}")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = _decode_page_token(page_token, state) if page_token else None
        self.expire_leases()
        cases = self.store.list_cases(state, after, size + 1)
        more = len(cases) > size
        cases = cases[:size]
        token = _encode_page_token(cases[-1], state) if more and cases else ""
        total = self.store.count_cases(state)
        return CasePage(cases=cases, next_page_token=token, total_size=total)


def _encode_page_token(last: Case, state: CaseState | None) -> str:
    key = {"risk": last.risk, "event_id": last.event_id, "state": state.value if state else ""}
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_page_token(token: str, state: CaseState | None) -> tuple[float, str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
        risk, event_id, token_state = float(key["risk"]), str(key["event_id"]), key["state"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidArgument("page_token is not one this service issued") from None
    if token_state != (state.value if state else ""):
        raise InvalidArgument("page_token belongs to a listing with another state filter")
    return risk, event_id


@dataclass(frozen=True)
class StartReview:
    """First message of a review session."""

    analyst: str
    prefetch: int


@dataclass(frozen=True)
class VerdictGiven:
    """The analyst's verdict on a pushed case."""

    event_id: str
    verdict: Verdict
    note: str = ""


@dataclass(frozen=True)
class CaseSkipped:
    """The analyst gives a pushed case back without a verdict."""

    event_id: str


ReviewAction = StartReview | VerdictGiven | CaseSkipped


@dataclass(frozen=True)
class CasePushed:
    """A case leased to this session."""

    case: Case


@dataclass(frozen=True)
class VerdictAcked:
    """A verdict is in the label log at `position` (an earlier verdict's, for a duplicate)."""

    event_id: str
    position: int


ReviewEvent = CasePushed | VerdictAcked


class ReviewSession:
    """One analyst's Review stream, authenticated as `analyst`.

    Requests are read on their own thread into an inbox; the caller's thread
    answers them and pushes cases while fewer than `prefetch` are unanswered.
    A case skipped, or whose lease ran out, is not offered to this session
    again. When the stream ends (client done or gone, or service stopping) its
    leases go back to the queue.
    """

    def __init__(self, queue: ReviewQueue, analyst: str) -> None:
        self._queue = queue
        self._cond = queue.changed
        self.analyst = analyst
        self.holder = uuid.uuid4().hex
        self._inbox: list[ReviewAction] = []
        self._failure: Exception | None = None
        self._client_done = False
        self._closed = False
        self._outstanding: dict[str, float] = {}  # event_id -> lease expiry
        self._pushed: set[str] = set()
        self._skipped: set[str] = set()
        self._expired: set[str] = set()  # leases of this session that ran out
        self._prefetch = 1

    def close(self) -> None:
        """The client went away: end at the next wake-up."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def run(self, actions: Iterator[ReviewAction]) -> Iterator[ReviewEvent]:
        start = next(actions, None)
        if not isinstance(start, StartReview):
            raise InvalidArgument("the first Review message must be 'start'")
        if not 0 <= start.prefetch <= MAX_PREFETCH:
            raise InvalidArgument(f"start.prefetch must be 0..{MAX_PREFETCH}, got {start.prefetch}")
        self._prefetch = start.prefetch or 1
        logger.info(
            "review session of %s opened (client calls itself %r, prefetch %d)",
            self.analyst,
            start.analyst,
            self._prefetch,
        )
        threading.Thread(
            target=self._read, args=(actions,), name="review-requests", daemon=True
        ).start()
        self._queue.metrics.review_sessions.inc()
        try:
            yield from self._serve()
        finally:
            self._queue.metrics.review_sessions.dec()
            self._release_all()

    def _release_all(self) -> None:
        try:
            released = self._queue.release(self.holder)
        except Exception as exc:  # store already closed at shutdown: startup releases them
            logger.debug("review session of %s: leases not released: %s", self.analyst, exc)
            return
        logger.info("review session of %s ended, %d lease(s) released", self.analyst, released)

    def _read(self, actions: Iterator[ReviewAction]) -> None:
        try:
            for action in actions:
                with self._cond:
                    self._inbox.append(action)
                    self._cond.notify_all()
        except InvalidArgument as exc:
            self._failure = exc
        except Exception as exc:  # the client's side broke (cancelled): the stream is over
            logger.debug("review session of %s: reading stopped: %s", self.analyst, exc)
        with self._cond:
            self._client_done = True
            self._cond.notify_all()

    def _serve(self) -> Iterator[ReviewEvent]:
        while True:
            with self._cond:
                inbox, self._inbox = self._inbox, []
                done = self._client_done and not inbox
                version = self._queue.version
            for action in inbox:
                yield from self._answer(action)
            if self._failure is not None:
                raise self._failure
            if done or self._closed or self._queue.stopping:
                return
            yield from self._push()
            with self._cond:
                idle = not (
                    self._inbox or self._closed or self._queue.stopping or self._client_done
                )
                if idle and self._queue.version == version:
                    self._cond.wait(self._wait_seconds())

    def _answer(self, action: ReviewAction) -> Iterator[ReviewEvent]:
        if isinstance(action, StartReview):
            raise InvalidArgument("'start' may only be the first Review message")
        if action.event_id not in self._pushed:
            raise InvalidArgument(f"case {action.event_id!r} was not pushed to this session")
        self._outstanding.pop(action.event_id, None)
        if isinstance(action, CaseSkipped):
            self._skipped.add(action.event_id)
            self._queue.release(self.holder, [action.event_id])
            return
        outcome = self._queue.labels.record(
            action.event_id, action.verdict, self.analyst, action.note
        )
        yield VerdictAcked(event_id=action.event_id, position=outcome.position)

    def _push(self) -> Iterator[ReviewEvent]:
        now = self._queue.clock()
        for event_id, expires in list(self._outstanding.items()):
            if expires <= now:  # the lease ran out: the case is someone else's turn
                del self._outstanding[event_id]
                self._expired.add(event_id)
        while len(self._outstanding) < self._prefetch:
            exclude = self._skipped | self._expired | set(self._outstanding)
            case = self._queue.lease_next(self.holder, self.analyst, exclude)
            if case is None:
                return
            self._outstanding[case.event_id] = case.lease_expires or now
            self._pushed.add(case.event_id)
            yield CasePushed(case)

    def _wait_seconds(self) -> float:
        now = self._queue.clock()
        deadlines = list(self._outstanding.values())
        if len(self._outstanding) < self._prefetch:
            # Room for another case: someone else's lease running out may bring one.
            others = self._queue.store.next_lease_expiry()
            if others is not None:
                deadlines.append(others)
        wait = min(deadlines, default=now + _MAX_WAIT_SECONDS) - now
        return min(max(wait, 0.01), _MAX_WAIT_SECONDS)
