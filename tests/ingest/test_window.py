"""The in-flight window commits only a routed prefix, whatever order batches finish in."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import pytest

from fraudstream.ingest.batch import Batch
from fraudstream.ingest.window import BatchFailed, InFlightWindow


def _batch(seq: int, offsets: dict[tuple[str, int], int]) -> Batch:
    return Batch(seq=seq, batch_id=f"b{seq}", next_offsets=offsets)


def test_only_the_routed_prefix_is_committable():
    window = InFlightWindow(capacity=3)
    first = _batch(1, {("t", 0): 10, ("t", 1): 5})
    second = _batch(2, {("t", 0): 20})
    third = _batch(3, {("t", 1): 9})
    routed: list[Future[None]] = [Future(), Future(), Future()]
    for batch, future in zip((first, second, third), routed, strict=True):
        window.add(batch, future)
    assert window.full()

    routed[1].set_result(None)
    routed[2].set_result(None)
    assert window.take_committable() == ({}, [])  # batch 1 still holds them back

    routed[0].set_result(None)
    offsets, done = window.take_committable()
    assert [b.seq for b in done] == [1, 2, 3]
    assert offsets == {("t", 0): 20, ("t", 1): 9}
    assert len(window) == 0 and not window.full()


def test_a_failed_batch_is_never_committed_nor_anything_after_it():
    window = InFlightWindow(capacity=3)
    routed: list[Future[None]] = [Future(), Future(), Future()]
    for seq, future in enumerate(routed, start=1):
        window.add(_batch(seq, {("t", 0): seq * 10}), future)
    routed[0].set_result(None)
    routed[1].set_exception(RuntimeError("scores for the wrong batch"))
    routed[2].set_result(None)

    offsets, done = window.take_committable()
    assert [b.seq for b in done] == [1] and offsets == {("t", 0): 10}
    with pytest.raises(BatchFailed, match="b2"):
        window.take_committable()
    assert len(window) == 2


def test_wait_routed_waits_for_every_batch():
    window = InFlightWindow(capacity=2)
    routed: Future[None] = Future()
    window.add(_batch(1, {("t", 0): 1}), routed)
    assert not window.wait_routed(timeout=0.05)
    threading.Timer(0.05, routed.set_result, args=(None,)).start()
    assert window.wait_routed(timeout=5)


def test_a_stop_ends_the_wait_for_routing():
    window = InFlightWindow(capacity=2)
    window.add(_batch(1, {("t", 0): 1}), Future())
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    assert not window.wait_routed(timeout=30, abort=stop)
    assert time.monotonic() - started < 5


def _sized(seq: int, events: int) -> Batch:
    batch = _batch(seq, {("t", 0): seq})
    batch.timestamps_ms = [0] * events  # one per message consumed
    return batch


def test_the_window_is_full_at_its_event_bound_before_its_batch_bound():
    window = InFlightWindow(capacity=64, max_events=1000)
    routed: list[Future[None]] = [Future() for _ in range(3)]
    window.add(_sized(1, 512), routed[0])
    assert not window.full() and window.events == 512
    window.add(_sized(2, 512), routed[1])
    assert window.full() and window.events == 1024  # 2 batches of 64, but 1,024 events

    routed[0].set_result(None)
    window.take_committable()
    assert window.events == 512 and not window.full()


def test_small_batches_fill_the_batch_bound_first():
    # At a moderate rate batches are small: the batch count bounds how much traffic may pass
    # one slow batch, the event bound is not reached.
    window = InFlightWindow(capacity=4, max_events=4096)
    routed: list[Future[None]] = [Future() for _ in range(4)]
    for seq, future in enumerate(routed, start=1):
        window.add(_sized(seq, 25), future)
    assert window.full() and window.events == 100
    routed[1].set_result(None)  # routed behind an unrouted head: still held
    assert window.take_committable() == ({}, []) and window.full()
    routed[0].set_result(None)
    _offsets, done = window.take_committable()
    assert [b.seq for b in done] == [1, 2] and window.events == 50 and not window.full()
