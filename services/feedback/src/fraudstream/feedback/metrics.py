"""Prometheus metrics of the feedback service, created once and passed in."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from fraudstream.common.grpc_errors import GrpcMetrics


class FeedbackMetrics:
    """Every metric the feedback service exports, on one registry.

    Label values are closed sets (rpc names, alert kinds, verdicts, outcomes) or
    consumer names chosen by operators; never an event or account id.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.grpc = GrpcMetrics(self.registry)
        self.requests = Counter(
            "feedback_requests_total",
            "Request messages received, by RPC (each message of a stream counts).",
            ["rpc"],
            registry=self.registry,
        )
        self.published = Counter(
            "feedback_published_total",
            "Labels the broker confirmed on the fraud.labels topic.",
            registry=self.registry,
        )
        self.publish_errors = Counter(
            "feedback_publish_errors_total",
            "Label deliveries to Kafka that failed (they are retried from the log).",
            registry=self.registry,
        )
        self.alerts = Counter(
            "feedback_alerts_total",
            "Alerts received, by kind (alert, audit, unspecified) and outcome "
            "(accepted, duplicate, rejected).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.verdicts = Counter(
            "feedback_verdicts_total",
            "Verdicts appended to the label log, by verdict (fraud, legit).",
            ["verdict"],
            registry=self.registry,
        )
        for verdict in ("fraud", "legit"):  # at 0 from the start, so rate() sees the first
            self.verdicts.labels(verdict)
        self.duplicate_verdicts = Counter(
            "feedback_duplicate_verdicts_total",
            "Verdicts on cases that already had one (the first verdict stands).",
            registry=self.registry,
        )
        self.conflicting_verdicts = Counter(
            "feedback_conflicting_verdicts_total",
            "Verdicts opposite to the case's label (kept on record; the label stands).",
            registry=self.registry,
        )
        self.refused_verdicts = Counter(
            "feedback_refused_verdicts_total",
            "Verdicts refused because another analyst held the case's lease.",
            registry=self.registry,
        )
        self.unauthenticated = Counter(
            "feedback_unauthenticated_total",
            "Labeling attempts refused for a missing or unknown bearer token, by RPC.",
            ["rpc"],
            registry=self.registry,
        )
        self.lease_expiries = Counter(
            "feedback_lease_expiries_total",
            "Leases that ran out before a verdict, returning their case to the queue.",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "feedback_queue_depth",
            "Open cases waiting for an analyst.",
            registry=self.registry,
        )
        self.leased_cases = Gauge(
            "feedback_leased_cases",
            "Cases currently leased to an analyst.",
            registry=self.registry,
        )
        self.review_sessions = Gauge(
            "feedback_review_sessions",
            "Open Review streams.",
            registry=self.registry,
        )
        self.label_log_position = Gauge(
            "feedback_label_log_position",
            "Position of the last entry of the label log.",
            registry=self.registry,
        )
        self.published_position = Gauge(
            "feedback_published_position",
            "Highest label position published to Kafka with everything before it.",
            registry=self.registry,
        )
        self.consumer_position = Gauge(
            "feedback_label_consumer_acked_position",
            "Highest label position a StreamLabels consumer acked, by consumer name.",
            ["consumer"],
            registry=self.registry,
        )

    def watch_cases(self, open_cases: Callable[[], float], leased: Callable[[], float]) -> None:
        """Read queue depth and leased cases from the store at scrape time."""
        self.queue_depth.set_function(open_cases)
        self.leased_cases.set_function(leased)
