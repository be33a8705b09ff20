"""The SQLite case store and label log, on a real database file."""

from __future__ import annotations

import pytest

from fraudstream.common.errors import NotFound
from fraudstream.feedback.domain import (
    AlertKind,
    AlertRecord,
    CaseLeased,
    CaseState,
    GivenVerdict,
    Verdict,
    VerdictOutcome,
)
from fraudstream.feedback.store import FeedbackStore


def _record(event_id: str, risk: float) -> AlertRecord:
    return AlertRecord(event_id, AlertKind.ALERT, risk, f"payload of {event_id}".encode())


@pytest.fixture
def store(tmp_path):
    opened = FeedbackStore(tmp_path / "feedback" / "feedback.db")
    yield opened
    opened.close()


def test_the_database_is_in_wal_mode(store):
    with store._lock:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_alert_is_stored_once_however_often_it_is_reported(store):
    assert store.add_alerts([_record("e-1", 0.9), _record("e-2", 0.5)], now=1.0) == [True, True]
    assert store.add_alerts([_record("e-1", 0.1), _record("e-1", 0.1)], now=2.0) == [False, False]
    assert store.count_cases(None) == 2
    case = store.get_case("e-1")
    assert case is not None
    assert (case.risk, case.payload, case.state) == (0.9, b"payload of e-1", CaseState.OPEN)


def test_leases_go_highest_risk_first_and_never_to_two_holders(store):
    store.add_alerts([_record("low", 0.2), _record("high", 0.9), _record("mid", 0.5)], now=0.0)
    first = store.lease_next("session-a", "alice", expires=100.0)
    second = store.lease_next("session-b", "bob", expires=100.0)
    third = store.lease_next("session-a", "alice", expires=100.0)
    assert [c.event_id for c in (first, second, third)] == ["high", "mid", "low"]
    assert store.lease_next("session-b", "bob", expires=100.0) is None
    assert store.queue_counts(now=50.0) == (0, 3)


def test_an_expired_lease_returns_the_case_to_the_queue(store):
    store.add_alerts([_record("e-1", 0.9)], now=0.0)
    leased = store.lease_next("session-a", "alice", expires=10.0)
    assert leased is not None and leased.state is CaseState.LEASED and leased.analyst == "alice"
    assert store.queue_counts(now=11.0) == (1, 0)  # counted as open before it is swept
    assert store.expire_leases(now=5.0) == 0
    assert store.expire_leases(now=10.0) == 1
    reopened = store.get_case("e-1")
    assert reopened is not None and reopened.state is CaseState.OPEN and reopened.analyst == ""
    again = store.lease_next("session-b", "bob", expires=20.0)
    assert again is not None and again.event_id == "e-1"


def test_release_only_touches_the_holders_own_leases(store):
    store.add_alerts([_record("a", 0.9), _record("b", 0.8)], now=0.0)
    store.lease_next("session-a", "alice", expires=100.0)
    store.lease_next("session-b", "bob", expires=100.0)
    assert store.release("session-a", ["b"]) == 0
    assert store.release("session-a", []) == 0
    assert store.release("session-a") == 1
    assert store.lease_next("session-c", "carol", expires=100.0, exclude={"x"}).event_id == "a"


def test_verdicts_get_gapless_positions_and_the_first_one_stands(store):
    store.add_alerts([_record(f"e-{i}", 0.5) for i in range(3)], now=0.0)
    outcomes = [
        store.record_verdict("e-2", Verdict.FRAUD, "alice", "emptied", now=1.0),
        store.record_verdict("e-0", Verdict.LEGIT, "bob", "", now=2.0),
        store.record_verdict("e-2", Verdict.LEGIT, "bob", "second opinion", now=3.0),
        store.record_verdict("e-1", Verdict.FRAUD, "alice", "", now=4.0),
    ]
    assert [(o.position, o.duplicate) for o in outcomes] == [
        (1, False),
        (2, False),
        (1, True),
        (3, False),
    ]
    labels = store.labels_after(0, limit=10)
    assert [(lb.position, lb.event_id, lb.verdict) for lb in labels] == [
        (1, "e-2", Verdict.FRAUD),
        (2, "e-0", Verdict.LEGIT),
        (3, "e-1", Verdict.FRAUD),
    ]
    assert labels[0].payload == b"payload of e-2" and labels[0].note == "emptied"
    assert [lb.position for lb in store.labels_after(1, limit=1)] == [2]
    labeled = store.get_case("e-2")
    assert labeled is not None and labeled.state is CaseState.LABELED
    assert (labeled.verdict, labeled.analyst) == (Verdict.FRAUD, "alice")


def test_every_verdict_is_on_record_and_says_whether_it_repeats_or_contradicts(store):
    store.add_alerts([_record("e-1", 0.5)], now=0.0)
    given = [
        store.record_verdict("e-1", Verdict.FRAUD, "alice", "mule", now=1.0),
        store.record_verdict("e-1", Verdict.FRAUD, "bob", "", now=2.0),
        store.record_verdict("e-1", Verdict.LEGIT, "bob", "known payee", now=3.0),
    ]
    assert [(o.position, o.outcome, o.label, o.labeled_by) for o in given] == [
        (1, VerdictOutcome.ACCEPTED, Verdict.FRAUD, "alice"),
        (1, VerdictOutcome.DUPLICATE, Verdict.FRAUD, "alice"),
        (1, VerdictOutcome.CONFLICT, Verdict.FRAUD, "alice"),
    ]
    assert store.last_position() == 1  # the label log holds the first verdict only
    assert store.verdicts_of("e-1") == [
        GivenVerdict("e-1", Verdict.FRAUD, "alice", "mule", VerdictOutcome.ACCEPTED, 1.0),
        GivenVerdict("e-1", Verdict.FRAUD, "bob", "", VerdictOutcome.DUPLICATE, 2.0),
        GivenVerdict("e-1", Verdict.LEGIT, "bob", "known payee", VerdictOutcome.CONFLICT, 3.0),
    ]


def test_a_case_leased_to_another_analyst_is_refused_until_the_lease_ends(store):
    store.add_alerts([_record("e-1", 0.5)], now=0.0)
    store.lease_next("session-a", "alice", expires=100.0)
    with pytest.raises(CaseLeased, match="leased to alice"):
        store.record_verdict("e-1", Verdict.LEGIT, "bob", "", now=50.0)
    assert store.last_position() == 0 and store.verdicts_of("e-1") == []
    # The lease holder may label it, from any session; anyone may once the lease ran out.
    late = store.record_verdict("e-1", Verdict.LEGIT, "bob", "", now=100.0)
    assert (late.position, late.outcome) == (1, VerdictOutcome.ACCEPTED)


def test_the_lease_holder_labels_a_leased_case(store):
    store.add_alerts([_record("e-1", 0.5)], now=0.0)
    store.lease_next("session-a", "alice", expires=100.0)
    mine = store.record_verdict("e-1", Verdict.FRAUD, "alice", "", now=50.0)
    assert (mine.position, mine.outcome) == (1, VerdictOutcome.ACCEPTED)


def test_a_verdict_on_an_unknown_case_is_refused_and_stores_nothing(store):
    with pytest.raises(NotFound):
        store.record_verdict("never-reported", Verdict.FRAUD, "alice", "", now=1.0)
    assert store.last_position() == 0


def test_everything_survives_reopening_the_file(tmp_path):
    path = tmp_path / "feedback.db"
    first = FeedbackStore(path)
    first.add_alerts([_record("e-1", 0.9), _record("e-2", 0.8)], now=0.0)
    first.record_verdict("e-1", Verdict.FRAUD, "alice", "", now=1.0)
    first.set_cursor("consumer:learner", 1, now=2.0)
    first.close()
    second = FeedbackStore(path)
    try:
        assert second.last_position() == 1
        assert second.count_cases(CaseState.OPEN) == 1
        assert second.get_cursor("consumer:learner") == 1
        assert second.get_cursor("publisher:fraud.labels") == 0
        outcome = second.record_verdict("e-2", Verdict.LEGIT, "bob", "", now=3.0)
        assert outcome.position == 2
    finally:
        second.close()


def test_a_store_from_before_the_verdicts_table_gets_its_labels_as_verdicts(tmp_path):
    path = tmp_path / "feedback.db"
    old = FeedbackStore(path)
    old.add_alerts([_record("e-1", 0.9)], now=0.0)
    old.record_verdict("e-1", Verdict.FRAUD, "alice", "mule", now=1.0)
    with old._lock:
        old._db.execute("DROP TABLE verdicts")  # as an older version left the file
    old.close()
    reopened = FeedbackStore(path)
    try:
        assert reopened.verdicts_of("e-1") == [
            GivenVerdict("e-1", Verdict.FRAUD, "alice", "mule", VerdictOutcome.ACCEPTED, 1.0)
        ]
    finally:
        reopened.close()
