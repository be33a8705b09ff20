"""The four services' metrics as one set: Prometheus conventions and the fixed names."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import Metric

from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.scorer.metrics import ScorerMetrics

SERVICES = {
    "scorer": ScorerMetrics,
    "feedback": FeedbackMetrics,
    "learner": LearnerMetrics,
    "ingest": IngestMetrics,
}
# The original design's names (docs/architecture.md), kept with their meaning, and where they live.
SEED = {
    "stream_events_in_total": "ingest",
    "stream_events_anomaly_total": "ingest",
    "stream_last_process_latency_ms": "ingest",
    "feedback_requests_total": "feedback",
    "feedback_published_total": "feedback",
    "online_updates_total": "learner",
}
SHARED = ("grpc_server_",)
# Label names that would carry an entity id (unbounded series).
ENTITY_LABELS = {"event_id", "account", "name_orig", "name_dest", "case_id", "batch_id", "token"}
# Counters with a closed set of label values, exported at 0 before the first event, so that
# rate() and increase() see the first one.
PRESET = {
    "scorer_decisions_total": {("allow",), ("review",), ("block",)},
    "feedback_verdicts_total": {("fraud",), ("legit",)},
    "learner_labels_consumed_total": {("fraud",), ("legit",)},
    "learner_snapshot_acks_total": {("applied",), ("rejected",)},
}


def _families(service: str) -> list[Metric]:
    metrics: Any = SERVICES[service]()
    return list(metrics.registry.collect())


def _name(family: Metric) -> str:
    """The name a query uses: counters carry `_total`."""
    return f"{family.name}_total" if family.type == "counter" else family.name


def _all() -> list[tuple[str, Metric]]:
    return [(service, family) for service in SERVICES for family in _families(service)]


def test_seed_names_keep_their_service():
    found = {_name(family): service for service, family in _all()}
    assert {name: found.get(name) for name in SEED} == SEED


@pytest.mark.parametrize("service", SERVICES)
def test_names_are_namespaced_by_service(service):
    for family in _families(service):
        name = _name(family)
        assert name.startswith((f"{service}_", *SHARED)) or name in SEED, name


def test_no_name_is_exported_by_two_services():
    owners: dict[str, set[str]] = {}
    for service, family in _all():
        owners.setdefault(_name(family), set()).add(service)
    shared = {name for name, services in owners.items() if len(services) > 1}
    assert all(name.startswith(SHARED) for name in shared), shared


def test_units_and_types_follow_prometheus_conventions():
    for _service, family in _all():
        name = _name(family)
        if family.type != "counter":
            assert not name.endswith(("_total", "_count", "_sum", "_bucket")), name
        if "latency" in name or "duration" in name or "handling" in name:
            assert name in SEED or (family.type == "histogram" and name.endswith("_seconds")), name
        if "timestamp" in name:
            assert family.type == "gauge" and name.endswith("_timestamp_seconds"), name
        assert not name.endswith(("_ms", "_milliseconds")) or name in SEED, name


def test_no_label_carries_an_entity_id():
    for _service, family in _all():
        for sample in family.samples:
            assert not ENTITY_LABELS & sample.labels.keys(), (family.name, sample.labels)


def test_closed_label_sets_are_exported_before_the_first_event():
    exported: dict[str, set[tuple[str, ...]]] = {}
    for _service, family in _all():
        for sample in family.samples:
            if sample.name in PRESET:
                exported.setdefault(sample.name, set()).add(tuple(sample.labels.values()))
    assert exported == PRESET
