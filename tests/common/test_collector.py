"""The cycle collector's pauses on /metrics, and startup frozen out of later collections."""

from __future__ import annotations

import gc

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fraudstream.common.collector import PAUSE_BUCKETS, paused, register_collector_metrics


def _pauses(registry: CollectorRegistry) -> dict[str, dict[str, float]]:
    """Per generation: `count`, `sum` and each bucket's cumulative count by its `le`."""
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        if family.name != "python_gc_pause_seconds":
            continue
        for sample in family.samples:
            generation = found.setdefault(sample.labels["generation"], {})
            if sample.name.endswith("_bucket"):
                generation[sample.labels["le"]] = sample.value
            else:
                generation[sample.name.rsplit("_", 1)[1]] = sample.value
    return found


def test_each_collection_is_counted_by_generation_with_its_pause() -> None:
    registry = CollectorRegistry()
    register_collector_metrics(registry)
    before = _pauses(registry)
    gc.collect(2)
    gc.collect(2)
    gc.collect(0)
    after = _pauses(registry)
    assert set(after) == {"0", "1", "2"}
    assert after["2"]["count"] - before["2"]["count"] >= 2
    assert after["0"]["count"] - before["0"]["count"] >= 1
    assert after["2"]["sum"] > before["2"]["sum"]
    for generation in after.values():
        cumulative = [generation[b] for b in ("0.0005", "0.001", "0.01", "0.1", "1.0", "+Inf")]
        assert cumulative == sorted(cumulative)
        assert generation["+Inf"] == generation["count"]
    assert len(PAUSE_BUCKETS) == len([k for k in after["2"] if k not in ("count", "sum")])


def test_the_standard_collection_counters_are_there_too() -> None:
    registry = CollectorRegistry()
    register_collector_metrics(registry)
    names = {f.name for f in text_string_to_metric_families(generate_latest(registry).decode())}
    assert {"python_gc_collections", "python_gc_objects_collected"} <= names


def test_a_second_registry_shares_the_process_record() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    register_collector_metrics(first)
    callbacks = len(gc.callbacks)
    register_collector_metrics(second)
    assert len(gc.callbacks) == callbacks  # one callback per process, however many registries
    gc.collect(2)
    assert _pauses(first)["2"]["count"] == _pauses(second)["2"]["count"]


def test_paused_turns_the_collector_off_for_the_block_and_back_on_after_it() -> None:
    assert gc.isenabled()
    with paused():
        assert not gc.isenabled()
        with paused():  # nested: still off after the inner block
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused():
        raise RuntimeError("the block failed")
    assert gc.isenabled()


def test_paused_leaves_a_collector_already_off_off() -> None:
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
