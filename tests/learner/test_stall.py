"""A learner stuck after one label position says so: health NOT_SERVING and learner_stalled."""

from __future__ import annotations

import functools
import threading

from fraudstream.common.health_watch import watch_health
from fraudstream.learner.consumer import LabelConsumer
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.progress import LabelProgress
from tests.waiting import wait_for

from .test_consumer import feedback  # noqa: F401 (the scripted feedback fixture)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _stalled(metrics: LearnerMetrics) -> float | None:
    return metrics.registry.get_sample_value("learner_stalled")


def test_failures_at_one_position_for_the_stall_period_are_a_stall_until_a_batch_applies():
    metrics, clock = LearnerMetrics(), Clock()
    progress = LabelProgress(metrics, stall_seconds=30, clock=clock)
    assert progress.condition().serving and _stalled(metrics) == 0

    progress.failed(32, OSError("disk full"))
    clock.now += 29
    progress.failed(32, OSError("disk full"))
    assert progress.condition().serving, "failing, but not for the stall period yet"
    clock.now += 2
    found = progress.condition()
    assert not found.serving and found.fault and _stalled(metrics) == 1
    assert "after label position 32" in found.text and "2 attempts" in found.text
    assert "disk full" in found.text

    progress.applied(40)
    assert progress.condition().serving and _stalled(metrics) == 0


def test_a_failure_at_a_new_position_starts_the_stall_clock_again():
    metrics, clock = LearnerMetrics(), Clock()
    progress = LabelProgress(metrics, stall_seconds=30, clock=clock)
    progress.failed(32, ValueError("gap"))
    clock.now += 25
    progress.failed(48, ValueError("gap"))  # it got further in between
    clock.now += 25
    assert progress.condition().serving
    clock.now += 6
    assert not progress.condition().serving


def test_a_label_stream_that_always_skips_a_position_turns_health_not_serving(
    feedback,  # noqa: F811
    make_learner,
    drift_stream,
):
    """The feedback side sends a gap after position 8 on every connection: the learner cannot
    move past 8, and its health watch reports it, then recovers once the labels come whole."""
    scripted, address, _service = feedback
    under_test = make_learner()
    under_test.feed(drift_stream.examples[:8])
    progress = LabelProgress(under_test.metrics, stall_seconds=0.5)
    consumer = LabelConsumer(
        address, under_test.learner, under_test.reader, under_test.metrics, progress, 0.05, 0.1
    )
    health: list[bool] = []
    stop = threading.Event()
    watch = threading.Thread(
        target=functools.partial(watch_health, progress.condition, health.append, stop, 0.02)
    )
    for _ in range(200):  # enough gaps for every reconnect of the test
        scripted.outbox.put(drift_stream.examples[9:12])
    consumer.start()
    watch.start()
    try:
        wait_for(lambda: health[-1:] == [False], 15)
        assert _stalled(under_test.metrics) == 1
        assert under_test.learner.label_position == 8, "nothing after the gap was applied"
        while not scripted.outbox.empty():
            scripted.outbox.get_nowait()
        scripted.outbox.put(drift_stream.examples[8:16])
        wait_for(lambda: under_test.learner.label_position == 16, 15)
        wait_for(lambda: health[-1:] == [True], 5)
        assert _stalled(under_test.metrics) == 0
        assert health[0] is True and False in health
    finally:
        stop.set()
        consumer.stop()
        watch.join(5)
