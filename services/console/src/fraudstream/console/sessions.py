"""Signed-in sessions: a random id in the cookie, the analyst's token kept here, never sent out."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fraudstream.common.auth import ADMIN, LABELER, VIEWER


@dataclass
class Session:
    """One browser's sign-in. `token` is the analyst's bearer token, forwarded on each call."""

    id: str
    analyst: str
    roles: frozenset[str]
    token: str = field(repr=False)
    csrf: str = field(repr=False)
    started: float
    last_seen: float
    notices: list[tuple[str, str]] = field(default_factory=list)  # (kind, text) to show once

    def notify(self, kind: str, text: str) -> None:
        self.notices.append((kind, text))

    def pop_notices(self) -> list[tuple[str, str]]:
        notices, self.notices = self.notices, []
        return notices

    @property
    def may_view(self) -> bool:
        return VIEWER in self.roles

    @property
    def may_label(self) -> bool:
        return LABELER in self.roles

    @property
    def may_roll_back(self) -> bool:
        return ADMIN in self.roles

    @property
    def role(self) -> str:
        """The strongest role, for the page header."""
        return next((r for r in (ADMIN, LABELER, VIEWER) if r in self.roles), "none")

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf.encode(), (given or "").encode())


class SessionStore:
    """Sessions by id, ended after `idle` seconds unused or `lifetime` seconds in all.

    `on_end(session)` runs once for every session that ends (sign-out or expiry), so the
    console can give back the cases it holds for it.
    """

    def __init__(
        self,
        idle: float,
        lifetime: float,
        on_end: Callable[[Session], None] = lambda _s: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._idle = idle
        self._lifetime = lifetime
        self._on_end = on_end
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def start(self, analyst: str, roles: frozenset[str], token: str) -> Session:
        """A new session with fresh random id and CSRF token (a new id at every sign-in)."""
        now = self._clock()
        session = Session(
            id=secrets.token_urlsafe(32),
            analyst=analyst,
            roles=roles,
            token=token,
            csrf=secrets.token_urlsafe(32),
            started=now,
            last_seen=now,
        )
        with self._lock:
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of a cookie value, marked as used; None if unknown or expired."""
        if not session_id:
            return None
        self.sweep()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                session.last_seen = self._clock()
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            self._on_end(session)

    def sweep(self) -> int:
        """End every expired session; how many ended."""
        now = self._clock()
        with self._lock:
            expired = [
                s
                for s in self._sessions.values()
                if now - s.last_seen >= self._idle or now - s.started >= self._lifetime
            ]
            for session in expired:
                del self._sessions[session.id]
        for session in expired:
            self._on_end(session)
        return len(expired)

    def end_all(self) -> None:
        with self._lock:
            ended, self._sessions = list(self._sessions.values()), {}
        for session in ended:
            self._on_end(session)
