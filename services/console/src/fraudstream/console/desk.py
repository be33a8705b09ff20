"""One analyst's review desk: the Review stream that leases them cases, as in the terminal UI."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from fraudstream.console.errors import NotHeld, Unavailable
from fraudstream.v1 import alert_pb2, feedback_service_pb2

logger = logging.getLogger(__name__)

ReviewRequest = feedback_service_pb2.ReviewRequest
ReviewResponse = feedback_service_pb2.ReviewResponse


class ReviewCall(Protocol):
    """An open Review stream: responses to iterate, and cancel()."""

    def __iter__(self) -> Iterator[ReviewResponse]: ...

    def cancel(self) -> None: ...


OpenReview = Callable[[Iterator[ReviewRequest]], ReviewCall]


class ReviewDesk:
    """Holds a Review stream open while the analyst works (prefetch 1, as `fraudstream review`).

    The stream opens at the first `take()`: the feedback service then leases the riskiest open
    case to this analyst and pushes it. A verdict goes back on the stream; the service acks it
    and leases the next case at once, which the desk keeps for the analyst. `close()` half-closes
    the stream, and the service gives back every case the desk still holds.
    """

    def __init__(
        self, open_review: OpenReview, analyst: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._open_review = open_review
        self._analyst = analyst
        self._clock = clock
        self._cond = threading.Condition()
        self._outbox: queue.Queue[ReviewRequest | None] | None = None
        self._call: ReviewCall | None = None
        self._cases: dict[str, alert_pb2.Case] = {}  # pushed, unanswered, in push order
        self._acks: dict[str, int] = {}
        self._failure: Exception | None = None

    @property
    def open(self) -> bool:
        with self._cond:
            return self._outbox is not None

    def _ensure_open(self) -> None:
        with self._cond:
            if self._outbox is not None:
                return
            outbox: queue.Queue[ReviewRequest | None] = queue.Queue()
            outbox.put(
                ReviewRequest(
                    start=feedback_service_pb2.ReviewStart(analyst=self._analyst, prefetch=1)
                )
            )
            self._outbox, self._failure = outbox, None
            self._cases.clear()

        def requests() -> Iterator[ReviewRequest]:
            while (request := outbox.get()) is not None:
                yield request

        call = self._open_review(requests())
        with self._cond:
            self._call = call
        threading.Thread(
            target=self._read, args=(call, outbox), name="console-review", daemon=True
        ).start()

    def _read(self, call: ReviewCall, outbox: queue.Queue[ReviewRequest | None]) -> None:
        try:
            for response in call:
                with self._cond:
                    if response.HasField("case_pushed"):
                        self._cases[response.case_pushed.event_id] = response.case_pushed
                    elif response.HasField("verdict_ack"):
                        self._acks[response.verdict_ack.event_id] = response.verdict_ack.position
                    self._cond.notify_all()
        except Exception as exc:  # the stream broke; the next take() opens a new one
            logger.info("review stream of %s ended: %s", self._analyst, exc)
            with self._cond:
                self._failure = exc
        with self._cond:
            if self._outbox is outbox:
                self._outbox, self._call = None, None
                self._cases.clear()
            self._cond.notify_all()

    def _live(self) -> list[alert_pb2.Case]:
        now = self._clock()
        return [
            case
            for case in self._cases.values()
            if not case.HasField("lease_expire_time") or case.lease_expire_time.seconds > now
        ]

    def held(self) -> alert_pb2.Case | None:
        """The case leased to this desk now, if any (without waiting)."""
        with self._cond:
            live = self._live()
            return live[0] if live else None

    def holds(self, event_id: str) -> alert_pb2.Case | None:
        with self._cond:
            return next((c for c in self._live() if c.event_id == event_id), None)

    def take(self, wait: float) -> alert_pb2.Case | None:
        """The case leased to this analyst: the one held, else the next the service pushes
        within `wait` seconds; None when the queue has nothing for them."""
        self._ensure_open()
        deadline = time.monotonic() + wait
        with self._cond:
            while not (live := self._live()):
                if self._outbox is None:  # the stream ended
                    raise Unavailable(f"the review stream ended: {self._failure}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return live[0]

    def answer(self, event_id: str, verdict: int, note: str, wait: float) -> int:
        """Send a verdict on a held case; the label log position the service acked."""
        with self._cond:
            if self.holds(event_id) is None or self._outbox is None:
                raise NotHeld(f"case {event_id} is not leased to you (take it from the queue)")
            del self._cases[event_id]
            self._acks.pop(event_id, None)
            self._outbox.put(
                ReviewRequest(
                    verdict=feedback_service_pb2.ReviewVerdict(
                        event_id=event_id,
                        verdict=verdict,  # type: ignore[arg-type]
                        note=note,
                    )
                )
            )
            deadline = time.monotonic() + wait
            while event_id not in self._acks:
                remaining = deadline - time.monotonic()
                if self._outbox is None or remaining <= 0:
                    raise Unavailable(
                        f"the feedback service did not confirm the verdict on {event_id}"
                    )
                self._cond.wait(remaining)
            return self._acks.pop(event_id)

    def skip(self, event_id: str) -> None:
        """Give a held case back to the queue (someone else takes it)."""
        with self._cond:
            if self.holds(event_id) is None or self._outbox is None:
                raise NotHeld(f"case {event_id} is not leased to you")
            del self._cases[event_id]
            self._outbox.put(ReviewRequest(skip=feedback_service_pb2.ReviewSkip(event_id=event_id)))

    def close(self, wait: float = 2.0) -> None:
        """Half-close the stream: the service releases this desk's leases and ends it."""
        with self._cond:
            outbox, call = self._outbox, self._call
            if outbox is None:
                return
            outbox.put(None)
            self._cond.wait_for(lambda: self._outbox is not outbox, timeout=wait)
            ended = self._outbox is not outbox
        if not ended and call is not None:  # the service did not end it in time
            call.cancel()
