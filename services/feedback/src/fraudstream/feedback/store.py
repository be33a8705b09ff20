"""SQLite case store and label log: alerts, leases and the gapless, ordered log of verdicts."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from fraudstream.common.errors import NotFound
from fraudstream.feedback.domain import (
    AlertRecord,
    Case,
    CaseLeased,
    CaseState,
    GivenVerdict,
    Label,
    LabelOutcome,
    Verdict,
    VerdictOutcome,
)
from fraudstream.feedback.store_sql import (
    BACKFILL_VERDICTS,
    CASE_COLUMNS,
    LABEL_QUERY,
    REOPEN,
    SCHEMA,
    case_from_row,
    label_from_row,
    state_filter,
)

logger = logging.getLogger(__name__)


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
        self._db.executescript(SCHEMA)
        self._db.execute(BACKFILL_VERDICTS)

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
                f"SELECT {CASE_COLUMNS} FROM cases WHERE event_id = ?", (event_id,)
            ).fetchone()
        return case_from_row(row) if row else None

    def list_cases(
        self, state: CaseState | None, after: tuple[float, str] | None, limit: int
    ) -> list[Case]:
        """Cases highest risk first (ties by event_id), strictly after the key `after`."""
        where, args = state_filter(state)
        if after is not None:
            where.append("(risk < ? OR (risk = ? AND event_id > ?))")
            args += [after[0], after[0], after[1]]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {CASE_COLUMNS} FROM cases {clause} ORDER BY risk DESC, event_id LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [case_from_row(row) for row in rows]

    def count_cases(self, state: CaseState | None) -> int:
        where, args = state_filter(state)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM cases {clause}", args).fetchone()[0])

    # -- leases -----------------------------------------------------------------

    def expire_leases(self, now: float) -> int:
        """Return every case whose lease has run out to the queue; how many did."""
        with self._write() as db:
            return db.execute(
                f"{REOPEN} WHERE state = ? AND lease_expires <= ?",
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
                f"{REOPEN} WHERE state = ? AND lease_holder = ? {only}",
                (CaseState.OPEN.value, CaseState.LEASED.value, holder, *(ids or [])),
            ).rowcount

    def release_all_leases(self) -> int:
        """Open every leased case: sessions do not outlive the process that held them."""
        with self._write() as db:
            return db.execute(
                f"{REOPEN} WHERE state = ?",
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
        """Record a verdict; the first on a case becomes its label at the next log position.

        Every verdict is kept in `verdicts`, so one that repeats or contradicts
        the label stays on record. CaseLeased when another analyst's lease on
        the case still runs: their verdict is the one under way.
        """
        with self._write() as db:
            case = db.execute(
                "SELECT state, analyst, lease_expires FROM cases WHERE event_id = ?", (event_id,)
            ).fetchone()
            if case is None:
                raise NotFound(f"no alert with event_id {event_id!r} was reported")
            state, holder, expires = case
            if state == CaseState.LEASED.value and holder != analyst and expires > now:
                raise CaseLeased(
                    f"case {event_id!r} is leased to {holder} for {expires - now:.1f} more"
                    " seconds; only they can label it until the lease ends"
                )
            label = db.execute(
                "SELECT position, verdict, analyst FROM labels WHERE event_id = ?", (event_id,)
            ).fetchone()
            if label is None:
                (position,) = db.execute(
                    "SELECT COALESCE(MAX(position), 0) + 1 FROM labels"
                ).fetchone()
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
                outcome = LabelOutcome(int(position), VerdictOutcome.ACCEPTED, verdict, analyst)
            else:
                stands = Verdict(label[1])
                same = VerdictOutcome.DUPLICATE if stands is verdict else VerdictOutcome.CONFLICT
                outcome = LabelOutcome(int(label[0]), same, stands, str(label[2]))
            db.execute(
                "INSERT INTO verdicts (event_id, verdict, analyst, note, outcome, given_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (event_id, verdict.value, analyst, note, outcome.outcome.value, now),
            )
        return outcome

    def verdicts_of(self, event_id: str) -> list[GivenVerdict]:
        """Every verdict given on a case, oldest first (the label and any later opinions)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT verdict, analyst, note, outcome, given_at FROM verdicts"
                " WHERE event_id = ? ORDER BY id",
                (event_id,),
            ).fetchall()
        return [
            GivenVerdict(event_id, Verdict(v), str(a), str(n), VerdictOutcome(o), float(t))
            for v, a, n, o, t in rows
        ]

    def labels_after(self, position: int, limit: int) -> list[Label]:
        """Up to `limit` consecutive log entries after `position`, in position order."""
        with self._lock:
            rows = self._db.execute(
                f"{LABEL_QUERY} WHERE l.position > ? ORDER BY l.position LIMIT ?",
                (position, limit),
            ).fetchall()
        return [label_from_row(row) for row in rows]

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
