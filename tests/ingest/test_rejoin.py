"""When the bridge replaces a consumer that lost its partitions (the broker outage test,
tests/ingest/test_outage.py, runs the real thing)."""

from __future__ import annotations

import time

from fraudstream.ingest.rejoin import Rejoin


def _rejoin(after: float) -> Rejoin:
    return Rejoin(lambda: None, after)  # type: ignore[arg-type,return-value]


def test_nothing_is_due_while_partitions_are_held_or_given_back():
    rejoin = _rejoin(0.0)
    assert not rejoin.due()  # never lost anything
    rejoin.lost_all()
    rejoin.assigned()
    assert not rejoin.due()


def test_due_once_per_period_after_losing_everything_until_assigned():
    rejoin = _rejoin(0.2)
    rejoin.lost_all()
    assert not rejoin.due()
    time.sleep(0.25)
    assert rejoin.due()
    assert not rejoin.due(), "the replacement gets its own period to join"
    time.sleep(0.25)
    assert rejoin.due()
    rejoin.assigned()
    time.sleep(0.25)
    assert not rejoin.due()
