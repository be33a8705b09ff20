"""The future combinators the batch flow is written with: chaining, recovery, waiting for all."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from fraudstream.ingest.futures import all_of, failed, recover, resolved, then


def test_then_runs_the_step_when_the_future_succeeds_and_follows_its_future():
    source: Future[int] = Future()
    inner: Future[str] = Future()
    chained = then(source, lambda n: inner if n == 2 else failed(AssertionError(n)))
    source.set_result(2)
    assert not chained.done()  # waits for the step's own future
    inner.set_result("two")
    assert chained.result(timeout=1) == "two"


def test_an_error_skips_the_step_and_a_failing_step_fails_the_chain():
    ran: list[int] = []
    skipped = then(failed(KeyError("x")), lambda n: resolved(ran.append(n)))
    with pytest.raises(KeyError):
        skipped.result(timeout=1)
    assert ran == []

    def broken(_n: int) -> Future[int]:
        raise ValueError("broken step")

    with pytest.raises(ValueError, match="broken step"):
        then(resolved(1), broken).result(timeout=1)


def test_recover_replaces_a_failure():
    recovered = recover(failed(KeyError("x")), resolved, lambda error: resolved(str(error)))
    assert recovered.result(timeout=1) == "'x'"
    assert recover(resolved(3), resolved, lambda e: resolved(0)).result(timeout=1) == 3


def test_all_of_waits_for_every_future_in_order_or_fails():
    first: Future[int] = Future()
    second: Future[int] = Future()
    both = all_of([first, second])
    second.set_result(2)
    assert not both.done()
    first.set_result(1)
    assert both.result(timeout=1) == [1, 2]
    assert all_of([]).result(timeout=1) == []

    late: Future[int] = Future()
    broken = all_of([failed(RuntimeError("lost")), late])
    assert not broken.done()  # a batch is not finished while a part of it is still pending
    late.set_result(1)
    with pytest.raises(RuntimeError, match="lost"):
        broken.result(timeout=1)
