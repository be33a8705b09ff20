"""SQL of the feedback store: schema, shared statements, rows to domain types."""

from __future__ import annotations

from typing import Any

from fraudstream.feedback.domain import AlertKind, Case, CaseState, Label, Verdict

# Every verdict ever given is in `verdicts`; the first one on a case is also its
# entry in `labels`, the gapless log the learner reads.
SCHEMA = """
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
CREATE TABLE IF NOT EXISTS verdicts (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES cases (event_id),
    verdict TEXT NOT NULL,
    analyst TEXT NOT NULL,
    note TEXT NOT NULL,
    outcome TEXT NOT NULL,
    given_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_by_event ON verdicts (event_id, id);
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
"""

# A store written before the verdicts table existed: its labels are its first verdicts.
BACKFILL_VERDICTS = """
INSERT INTO verdicts (event_id, verdict, analyst, note, outcome, given_at)
SELECT event_id, verdict, analyst, note, 'accepted', label_time FROM labels
WHERE NOT EXISTS (SELECT 1 FROM verdicts) ORDER BY position
"""

# Back to the queue: no analyst, no lease.
REOPEN = "UPDATE cases SET state = ?, analyst = '', lease_holder = NULL, lease_expires = NULL"
CASE_COLUMNS = "event_id, kind, risk, payload, state, analyst, lease_expires, verdict, note"
LABEL_QUERY = """
SELECT l.position, l.event_id, l.verdict, l.analyst, l.note, l.label_time, c.kind, c.payload
FROM labels AS l JOIN cases AS c USING (event_id)
"""


def state_filter(state: CaseState | None) -> tuple[list[str], list[object]]:
    if state is None:
        return [], []
    return ["state = ?"], [state.value]


def case_from_row(row: tuple[Any, ...]) -> Case:
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


def label_from_row(row: tuple[Any, ...]) -> Label:
    """A LABEL_QUERY row as a Label."""
    return Label(
        position=int(row[0]),
        event_id=row[1],
        verdict=Verdict(row[2]),
        analyst=row[3],
        note=row[4],
        label_time=float(row[5]),
        kind=AlertKind(row[6]),
        payload=bytes(row[7]),
    )
