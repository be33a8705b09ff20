"""The review queue: open cases leased to analysts highest risk first, and case listings."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence

from fraudstream.common.errors import InvalidArgument
from fraudstream.feedback.domain import AlertRecord, Case, CasePage, CaseState
from fraudstream.feedback.labels import LabelLog
from fraudstream.feedback.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_STRING_CHARS
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.store import FeedbackStore

logger = logging.getLogger(__name__)


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
        """One page of cases, highest risk first; `page_token` continues a listing.

        A page_size over MAX_PAGE_SIZE is served MAX_PAGE_SIZE cases (AIP-158's coercion).
        """
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


# Tokens carry a risk and an event_id of at most MAX_STRING_CHARS, base64 encoded.
_MAX_TOKEN_CHARS = 4 * MAX_STRING_CHARS


def _encode_page_token(last: Case, state: CaseState | None) -> str:
    key = {"risk": last.risk, "event_id": last.event_id, "state": state.value if state else ""}
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_page_token(token: str, state: CaseState | None) -> tuple[float, str]:
    if len(token) > _MAX_TOKEN_CHARS:
        raise InvalidArgument("page_token is not one this service issued (too long)")
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
        risk, event_id, token_state = float(key["risk"]), str(key["event_id"]), key["state"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidArgument("page_token is not one this service issued") from None
    if token_state != (state.value if state else ""):
        raise InvalidArgument("page_token belongs to a listing with another state filter")
    return risk, event_id
