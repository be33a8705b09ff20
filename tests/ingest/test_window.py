"""The in-flight window commits only a routed prefix, whatever order batches finish in."""

from __future__ import annotations

import threading

from fraudstream.ingest.window import Batch, InFlightWindow


def _batch(seq: int, offsets: dict[tuple[str, int], int]) -> Batch:
    return Batch(seq=seq, batch_id=f"b{seq}", next_offsets=offsets)


def test_only_the_routed_prefix_is_committable():
    routed: list[int] = []
    window = InFlightWindow(capacity=3, on_routed=lambda b: routed.append(b.seq))
    first = _batch(1, {("t", 0): 10, ("t", 1): 5})
    second = _batch(2, {("t", 0): 20})
    third = _batch(3, {("t", 1): 9})
    for batch in (first, second, third):
        window.add(batch)
        batch.hold(2)  # e.g. the scorer's answer and one delivery
    assert window.full()

    second.release(2)
    third.release(2)
    assert window.take_committable() == ({}, [])  # batch 1 still holds them back

    first.release()
    assert window.take_committable() == ({}, [])
    first.release()
    offsets, done = window.take_committable()
    assert [b.seq for b in done] == [1, 2, 3]
    assert offsets == {("t", 0): 20, ("t", 1): 9}
    assert sorted(routed) == [1, 2, 3]
    assert len(window) == 0 and not window.full()


def test_wait_routed_waits_for_every_batch():
    window = InFlightWindow(capacity=2)
    batch = _batch(1, {("t", 0): 1})
    window.add(batch)
    batch.hold()
    assert not window.wait_routed(timeout=0.05)
    threading.Timer(0.05, batch.release).start()
    assert window.wait_routed(timeout=5)
