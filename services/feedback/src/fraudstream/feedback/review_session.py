"""One analyst's Review session: push leased cases up to the prefetch, record verdicts and skips."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from fraudstream.common.errors import InvalidArgument
from fraudstream.feedback.domain import Case, CaseLeased, LabelOutcome, Verdict, VerdictOutcome
from fraudstream.feedback.review_queue import ReviewQueue

logger = logging.getLogger(__name__)

MAX_PREFETCH = 100
# Longest a waiting session sleeps without news (a safety net; wake-ups are notified).
_MAX_WAIT_SECONDS = 30.0


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
    """What became of a verdict: recorded, or refused (outcome None) with `message` saying why.

    `position` is the verdict's place in the label log, the earlier label's for a
    duplicate or conflict, 0 when refused.
    """

    event_id: str
    position: int
    outcome: VerdictOutcome | None
    message: str = ""


ReviewEvent = CasePushed | VerdictAcked


def verdict_message(recorded: LabelOutcome) -> str:
    """What an analyst is told about a verdict that contradicts the case's label."""
    if recorded.outcome is not VerdictOutcome.CONFLICT:
        return ""
    return (
        f"the case was already labeled {recorded.label.value} by {recorded.labeled_by};"
        " that label stands, this verdict is kept on record as a conflicting opinion"
    )


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
        try:
            recorded = self._queue.labels.record(
                action.event_id, action.verdict, self.analyst, action.note
            )
        except CaseLeased as exc:  # our lease ran out and another analyst has the case now
            yield VerdictAcked(action.event_id, 0, None, str(exc))
            return
        yield VerdictAcked(
            action.event_id, recorded.position, recorded.outcome, verdict_message(recorded)
        )

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
