"""The console's core: sign-in, sessions, each analyst's desk, and what every page asks for."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from fraudstream.console.backend import Backend, QueueCounts
from fraudstream.console.desk import ReviewDesk
from fraudstream.console.errors import CaseNotFound, Forbidden, SignInRefused, Unavailable
from fraudstream.console.metrics import ConsoleMetrics
from fraudstream.console.roles import RoleBook
from fraudstream.console.sessions import Session, SessionStore
from fraudstream.v1 import alert_pb2, learner_service_pb2

logger = logging.getLogger(__name__)

VERDICTS = {"fraud": alert_pb2.VERDICT_FRAUD, "legit": alert_pb2.VERDICT_LEGIT}


@dataclass(frozen=True)
class Timing:
    """How long the console waits for the services."""

    take_wait: float
    ack_wait: float


class Console:
    """What the pages do, without HTTP: every method takes the signed-in session.

    Roles are checked here, whatever the page showed: a viewer's verdict is refused
    even if it was posted by hand.
    """

    def __init__(
        self,
        backend: Backend,
        roles: RoleBook,
        metrics: ConsoleMetrics,
        idle_seconds: float,
        lifetime_seconds: float,
        timing: Timing,
    ) -> None:
        self.backend = backend
        self._roles = roles
        self.metrics = metrics
        self._timing = timing
        self._desks: dict[str, ReviewDesk] = {}
        self._lock = threading.Lock()
        self.sessions = SessionStore(idle_seconds, lifetime_seconds, on_end=self._session_ended)
        metrics.sessions.set_function(lambda: len(self.sessions))

    def sign_in(self, token: str) -> Session:
        """A new session for a token both the tokens file and the feedback service accept."""
        token = token.strip()
        found = self._roles.roles(token) if token else None
        if found is None:
            self.metrics.sign_ins.labels("refused").inc()
            raise SignInRefused("unknown token")
        try:
            self.backend.check_token(token)
        except Unavailable:
            self.metrics.sign_ins.labels("unavailable").inc()
            raise
        except (SignInRefused, Forbidden):
            self.metrics.sign_ins.labels("refused").inc()
            raise
        analyst, roles = found
        self.metrics.sign_ins.labels("ok").inc()
        logger.info("%s signed in to the console", analyst)
        return self.sessions.start(analyst, roles, token)

    def sign_out(self, session: Session) -> None:
        self.sessions.end(session.id)
        logger.info("%s signed out of the console", session.analyst)

    def _session_ended(self, session: Session) -> None:
        with self._lock:
            desk = self._desks.pop(session.id, None)
        if desk is not None:
            desk.close()

    def close(self) -> None:
        """End every session, giving back every case the console holds."""
        self.sessions.end_all()

    def _desk(self, session: Session) -> ReviewDesk:
        with self._lock:
            desk = self._desks.get(session.id)
            if desk is None:
                token = session.token
                desk = ReviewDesk(
                    lambda requests: self.backend.open_review(token, requests), session.analyst
                )
                self._desks[session.id] = desk
            return desk

    def _require_labeler(self, session: Session) -> None:
        if not session.may_label:
            raise Forbidden(
                f"{session.analyst} is a {session.role}: labeling needs the labeler role"
            )

    def held_case(self, session: Session) -> alert_pb2.Case | None:
        with self._lock:
            desk = self._desks.get(session.id)
        return desk.held() if desk is not None else None

    def take_case(self, session: Session) -> alert_pb2.Case | None:
        """Lease the riskiest open case to this analyst (or the one they hold already)."""
        self._require_labeler(session)
        return self._desk(session).take(self._timing.take_wait)

    def stop_reviewing(self, session: Session) -> None:
        """Give back every case this analyst holds."""
        with self._lock:
            desk = self._desks.pop(session.id, None)
        if desk is not None:
            desk.close()

    def label(self, session: Session, event_id: str, verdict: str, note: str) -> int:
        """Record a verdict on a case leased to this analyst; its label log position."""
        self._require_labeler(session)
        if verdict not in VERDICTS:
            raise Forbidden(f"unknown verdict {verdict!r}")
        position = self._desk(session).answer(
            event_id, VERDICTS[verdict], note.strip()[:2000], self._timing.ack_wait
        )
        self.metrics.labels.labels(verdict).inc()
        logger.info("%s labeled %s as %s (label #%d)", session.analyst, event_id, verdict, position)
        return position

    def skip(self, session: Session, event_id: str) -> None:
        self._require_labeler(session)
        self._desk(session).skip(event_id)

    def case(self, session: Session, event_id: str) -> tuple[alert_pb2.Case, bool]:
        """A case, and whether it is leased to this analyst (so they may label it now)."""
        held = self.held_case(session)
        if held is not None and held.event_id == event_id:
            return held, True
        with self._lock:
            desk = self._desks.get(session.id)
        if desk is not None and (mine := desk.holds(event_id)) is not None:
            return mine, True
        found = self.backend.find_case(session.token, event_id)
        if found is None:
            raise CaseNotFound(f"no case {event_id}")
        return found, False

    def queue(self, session: Session, page_size: int = 50) -> dict[str, list[alert_pb2.Case]]:
        token = session.token
        return {
            "open": self.backend.cases(token, alert_pb2.CASE_STATE_OPEN, page_size),
            "leased": self.backend.cases(token, alert_pb2.CASE_STATE_LEASED, page_size),
            "labeled": self.backend.cases(token, alert_pb2.CASE_STATE_LABELED, 10),
        }

    def counts(self, session: Session) -> QueueCounts:
        return self.backend.counts(session.token)

    def model(self, session: Session) -> learner_service_pb2.GetLearnerStatusResponse:
        return self.backend.learner_status(session.token)

    def roll_back(self, session: Session, to_version: int | None) -> str:
        if not session.may_roll_back:
            raise Forbidden(f"{session.analyst} is a {session.role}: rollback needs the admin role")
        answer = self.backend.rollback(session.token, to_version)
        logger.info("%s rolled the model back (%s)", session.analyst, to_version or "previous")
        return answer
