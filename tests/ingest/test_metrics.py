"""The bridge's metrics helpers against prometheus_client's own per-event observe()."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from fraudstream.ingest.metrics import IngestMetrics, observe_all


def test_observing_a_batch_of_latencies_at_once_equals_observing_each():
    one_by_one, at_once = IngestMetrics(CollectorRegistry()), IngestMetrics(CollectorRegistry())
    # Values on the bounds, between them, past the last finite one, and zero.
    amounts = [0.0, 0.001, 0.0011, 0.005, 0.049, 0.05, 7.5, 29.9, 30.0, 31.0, 1e6]
    amounts += np.random.default_rng(3).exponential(0.05, 2000).tolist()
    for amount in amounts:
        one_by_one.event_latency.observe(amount)
    observe_all(at_once.event_latency, amounts)
    observe_all(at_once.event_latency, [])
    expected = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in one_by_one.registry.collect()
        if family.name == "ingest_event_latency_seconds"
        for s in family.samples
        if not s.name.endswith("_created")
    }
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in at_once.registry.collect()
        if family.name == "ingest_event_latency_seconds"
        for s in family.samples
        if not s.name.endswith("_created")
    }
    assert got.keys() == expected.keys() and len(got) > 10
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key
