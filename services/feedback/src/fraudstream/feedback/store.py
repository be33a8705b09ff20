"""SQLite case store and label log: alerts, leases and the gapless, ordered log of verdicts."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fraudstream.common.errors import NotFound
from fraudstream.feedback.domain import (
    AlertKind,
    AlertRecord,
    Case,
    CaseState,
    Label,
    LabelOutcome,
    Verdict,
)

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    event_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    risk REAL NOT NULL,
    payload BLOB NOT NULL,
    state TEXT NOT NULL,
    analyst TEXT NOT NULL DEFAULT '',
    lease_holder TEXT,
    lease_expires REAL,
    verdict TEXT,
    note TEXT NOT NULL DEFAULT '',
    reported_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_by_risk ON cases (state, risk DESC, event_id);
CREATE TABLE IF NOT EXISTS labels (
    position INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE REFERENCES cases (event_id),
    verdict TEXT NOT NULL,
    analyst TEXT NOT NULL,
    note TEXT NOT NULL,
    label_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
"""

# Back to the queue: no analyst, no lease.
_REOPEN = "UPDATE cases SET state = ?, analyst = '', lease_holder = NULL, lease_expires = NULL"
_CASE_COLUMNS = "event_id, kind, risk, payload, state, analyst, lease_expires, verdict, note"
_LABEL_QUERY = """
SELECT l.position, l.event_id, l.verdict, l.analyst, l.note, l.label_time, c.kind, c.payload
FROM labels AS l JOIN cases AS c USING (event_id)
"""


class FeedbackStore:
    """The feedback service's durable state in one SQLite file (WAL, synchronous=FULL).

    Every write commits before the method returns, so a caller may ack what it
    stored. One connection serialised by a lock: writes are small and the
    single writer is what keeps label positions gapless (1, 2, 3, ...).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we ack an alert or a verdict.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- alerts -----------------------------------------------------------------

    def add_alerts(self, records: Sequence[AlertRecord], now: float) -> list[bool]:
        """Store alerts in one transaction; per record, True if new, False for a known event_id."""
        stored: list[bool] = []
        with self._write() as db:
            for record in records:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO cases (event_id, kind, risk, payload, state,"
                    " reported_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        record.event_id,
                        record.kind.value,
                        record.risk,
                        record.payload,
                        CaseState.OPEN.value,
                        now,
                    ),
                )
                stored.append(cursor.rowcount == 1)
        return stored

    def get_case(self, event_id: str) -> Case | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_CASE_COLUMNS} FROM cases WHERE event_id = ?", (event_id,)
            ).fetchone()
        return _case(row) if row else None

    def list_cases(
        self, state: CaseState | None, after: tuple[float, str] | None, limit: int
    ) -> list[Case]:
        """Cases highest risk first (ties by event_id), strictly after the key `after`."""
        where, args = _state_filter(state)
        if after is not None:
            where.append("(risk < ? OR (risk = ? AND event_id > ?))")
            args += [after[0], after[0], after[1]]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_CASE_COLUMNS} FROM cases {clause} ORDER BY risk DESC, event_id LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [_case(row) for row in rows]

    def count_cases(self, state: CaseState | None) -> int:
        where, args = _state_filter(state)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM cases {clause}", args).fetchone()[0])

    # -- leases -----------------------------------------------------------------

    def expire_leases(self, now: float) -> int:
        """Return every case whose lease has run out to the queue; how many did."""
        with self._write() as db:
            return db.execute(
                f"{_REOPEN} WHERE state = ? AND lease_expires <= ?",
                (CaseState.OPEN.value, CaseState.LEASED.value, now),
            ).rowcount

    def lease_next(
        self, holder: str, analyst: str, expires: float, exclude: Collection[str] = ()
    ) -> Case | None:
        """Lease the highest-risk open case (not in `exclude`) to `holder` until `expires`."""
        excluded = list(exclude)
        not_in = f"AND event_id NOT IN ({','.join('?' * len(excluded))})" if excluded else ""
        with self._write() as db:
            row = db.execute(
                f"SELECT event_id FROM cases WHERE state = ? {not_in}"
                " ORDER BY risk DESC, event_id LIMIT 1",
                (CaseState.OPEN.value, *excluded),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE cases SET state = ?, analyst = ?, lease_holder = ?, lease_expires = ?"
                " WHERE event_id = ?",
                (CaseState.LEASED.value, analyst, holder, expires, row[0]),
            )
        return self.get_case(row[0])

    def release(self, holder: str, event_ids: Collection[str] | None = None) -> int:
        """Give `holder`'s leases (all, or those of `event_ids`) back to the queue."""
        ids = list(event_ids) if event_ids is not None else None
        only = f"AND event_id IN ({','.join('?' * len(ids))})" if ids else ""
        if ids is not None and not ids:
            return 0
        with self._write() as db:
            return db.execute(
                f"{_REOPEN} WHERE state = ? AND lease_holder = ? {only}",
                (CaseState.OPEN.value, CaseState.LEASED.value, holder, *(ids or [])),
            ).rowcount

    def release_all_leases(self) -> int:
        """Open every leased case: sessions do not outlive the process that held them."""
        with self._write() as db:
            return db.execute(
                f"{_REOPEN} WHERE state = ?",
                (CaseState.OPEN.value, CaseState.LEASED.value),
            ).rowcount

    def queue_counts(self, now: float) -> tuple[int, int]:
        """(open, leased) cases as of `now`, counting a run-out lease as open."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(state = ? OR (state = ? AND lease_expires <= ?)), 0),"
                " COALESCE(SUM(state = ? AND lease_expires > ?), 0) FROM cases",
                (CaseState.OPEN.value, CaseState.LEASED.value, now, CaseState.LEASED.value, now),
            ).fetchone()
        return int(row[0]), int(row[1])

    def next_lease_expiry(self) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(lease_expires) FROM cases WHERE state = ?", (CaseState.LEASED.value,)
            ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    # -- labels -----------------------------------------------------------------

    def record_verdict(
        self, event_id: str, verdict: Verdict, analyst: str, note: str, now: float
    ) -> LabelOutcome:
        """Append a verdict to the label log at the next position; the first verdict stands."""
        with self._write() as db:
            if db.execute("SELECT 1 FROM cases WHERE event_id = ?", (event_id,)).fetchone() is None:
                raise NotFound(f"no alert with event_id {event_id!r} was reported")
            row = db.execute(
                "SELECT position FROM labels WHERE event_id = ?", (event_id,)
            ).fetchone()
            if row is not None:
                return LabelOutcome(position=int(row[0]), duplicate=True)
            (position,) = db.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM labels").fetchone()
            db.execute(
                "INSERT INTO labels (position, event_id, verdict, analyst, note, label_time)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (position, event_id, verdict.value, analyst, note, now),
            )
            db.execute(
                "UPDATE cases SET state = ?, verdict = ?, analyst = ?, note = ?,"
                " lease_holder = NULL, lease_expires = NULL WHERE event_id = ?",
                (CaseState.LABELED.value, verdict.value, analyst, note, event_id),
            )
        return LabelOutcome(position=int(position), duplicate=False)

    def labels_after(self, position: int, limit: int) -> list[Label]:
        """Up to `limit` consecutive log entries after `position`, in position order."""
        with self._lock:
            rows = self._db.execute(
                f"{_LABEL_QUERY} WHERE l.position > ? ORDER BY l.position LIMIT ?",
                (position, limit),
            ).fetchall()
        return [
            Label(
                position=int(row[0]),
                event_id=row[1],
                verdict=Verdict(row[2]),
                analyst=row[3],
                note=row[4],
                label_time=float(row[5]),
                kind=AlertKind(row[6]),
                payload=bytes(row[7]),
            )
            for row in rows
        ]

    def last_position(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(position), 0) FROM labels").fetchone()
        return int(row[0])

    # -- cursors (publisher progress, consumers' acks) ---------------------------

    def get_cursor(self, name: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT position FROM cursors WHERE name = ?", (name,)
            ).fetchone()
        return int(row[0]) if row else 0

    def set_cursor(self, name: str, position: int, now: float) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO cursors (name, position, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET position = excluded.position,"
                " updated_at = excluded.updated_at",
                (name, position, now),
            )


def _state_filter(state: CaseState | None) -> tuple[list[str], list[object]]:
    if state is None:
        return [], []
    return ["state = ?"], [state.value]


def _case(row: tuple[Any, ...]) -> Case:
    event_id, kind, risk, payload, state, analyst, lease_expires, verdict, note = row
    return Case(
        event_id=str(event_id),
        kind=AlertKind(kind),
        risk=float(risk),
        payload=bytes(payload),
        state=CaseState(state),
        analyst=str(analyst or ""),
        lease_expires=float(lease_expires) if lease_expires is not None else None,
        verdict=Verdict(verdict) if verdict else None,
        note=str(note or ""),
    )
