"""Health's truth without Kafka: unassigned, stalled with work waiting, idle but healthy."""

from __future__ import annotations

import functools
import json
import threading

from fraudstream.common.health_watch import watch_health
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.progress import BridgeState, Progress, bridge_condition, report_lag
from tests.waiting import wait_for


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _progress(in_flight: int = 0) -> tuple[Progress, _Clock, IngestMetrics]:
    clock, metrics = _Clock(), IngestMetrics()
    return Progress(metrics, 30.0, lambda: in_flight, clock), clock, metrics


def _gauge(metrics: IngestMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None
    return value


def test_a_bridge_without_partitions_is_not_serving():
    progress, _clock, metrics = _progress()
    assert progress.state() is BridgeState.UNASSIGNED
    progress.assigned([0, 1])
    assert progress.state() is BridgeState.SERVING
    assert _gauge(metrics, "ingest_assigned_partitions") == 2
    progress.revoked([0, 1])
    assert progress.state() is BridgeState.UNASSIGNED


def test_lag_without_routing_for_the_stall_period_is_stalled_until_a_batch_is_routed():
    progress, clock, metrics = _progress()
    progress.assigned([0])
    progress.lag(0, 500)
    clock.now += 29
    assert progress.state() is BridgeState.SERVING
    clock.now += 2
    assert progress.state() is BridgeState.STALLED
    assert _gauge(metrics, "ingest_stalled") == 1
    progress.routed()
    assert progress.state() is BridgeState.SERVING
    assert _gauge(metrics, "ingest_stalled") == 0
    assert _gauge(metrics, "ingest_last_progress_timestamp_seconds") > 0


def test_an_idle_bridge_stays_healthy_and_new_events_get_the_full_stall_period():
    progress, clock, _metrics = _progress()
    progress.assigned([0])
    clock.now += 3600  # an hour without events: no lag, nothing in flight
    assert progress.state() is BridgeState.SERVING
    progress.lag(0, 10)
    clock.now += 29
    assert progress.state() is BridgeState.SERVING
    clock.now += 2
    assert progress.state() is BridgeState.STALLED


def test_batches_in_flight_count_as_waiting_work():
    progress, clock, _metrics = _progress(in_flight=3)
    progress.assigned([0])
    clock.now += 31
    assert progress.state() is BridgeState.STALLED


def test_lag_of_a_partition_not_held_is_ignored():
    progress, clock, _metrics = _progress()
    progress.assigned([0])
    progress.lag(7, 1000)
    clock.now += 60
    assert progress.state() is BridgeState.SERVING


def test_the_watch_reports_each_change_of_state():
    progress, clock, _metrics = _progress()
    reported: list[bool] = []
    stop = threading.Event()
    watch = threading.Thread(
        target=watch_health,
        args=(functools.partial(bridge_condition, progress), reported.append, stop, 0.01),
    )
    watch.start()
    try:
        wait_for(lambda: reported == [False], 5.0)
        progress.assigned([0])
        wait_for(lambda: reported == [False, True], 5.0)
        progress.lag(0, 5)
        clock.now += 31
        wait_for(lambda: reported == [False, True, False], 5.0)
    finally:
        stop.set()
        watch.join(5)
    assert not watch.is_alive()


def _stats(topic: str, **partition0) -> str:
    return json.dumps({"topics": {topic: {"partitions": {"0": partition0, "-1": {}}}}})


def test_a_partition_that_never_fetched_since_assigned_is_not_idle():
    # librdkafka's statistics for a partition left paused by a rebalance: no end offset, no lag.
    progress, clock, metrics = _progress()
    progress.assigned([0])
    never_fetched = _stats("t", fetch_state="active", consumer_lag=-1, hi_offset=-1001)
    report_lag(metrics, progress, "t", never_fetched)
    clock.now += 29
    assert progress.state() is BridgeState.SERVING
    clock.now += 2
    assert progress.state() is BridgeState.STALLED


def test_lag_comes_from_the_statistics_and_an_unknown_commit_with_an_end_offset_is_not_a_stall():
    progress, clock, metrics = _progress()
    progress.assigned([0])
    report_lag(metrics, progress, "t", _stats("t", fetch_state="active", consumer_lag=42))
    assert metrics.registry.get_sample_value("ingest_consumer_lag", {"partition": "0"}) == 42
    # Fetching from a group that never committed: no lag figure, but an end offset.
    fetching = _stats("t", fetch_state="active", consumer_lag=-1, hi_offset=100)
    report_lag(metrics, progress, "t", _stats("t", consumer_lag=0, hi_offset=100))  # caught up
    report_lag(metrics, progress, "t", fetching)  # leaves the last lag as it was
    clock.now += 60
    assert progress.state() is BridgeState.SERVING
