"""Prometheus metrics of the analyst console, created once and passed in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ConsoleMetrics:
    """Every metric the console exports, on one registry.

    Label values are closed sets: route templates (`/cases/<event_id>`, never a filled-in
    path), status codes, outcomes and verdicts; never an analyst, event or account id.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "console_requests_total",
            "HTTP requests answered, by route template and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "console_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.sign_ins = Counter(
            "console_sign_ins_total",
            "Sign-in attempts, by outcome (ok, refused, unavailable).",
            ["outcome"],
            registry=self.registry,
        )
        self.labels = Counter(
            "console_labels_submitted_total",
            "Verdicts the feedback service acknowledged, by verdict (fraud, legit).",
            ["verdict"],
            registry=self.registry,
        )
        for outcome in ("ok", "refused", "unavailable"):  # at 0 from the start, for rate()
            self.sign_ins.labels(outcome)
        for verdict in ("fraud", "legit"):
            self.labels.labels(verdict)
        self.sessions = Gauge(
            "console_sessions",
            "Signed-in sessions that have not expired.",
            registry=self.registry,
        )
