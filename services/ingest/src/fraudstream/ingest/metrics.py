"""Prometheus metrics of the ingest service, created once and passed in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from fraudstream.common.grpc_errors import GrpcMetrics


class IngestMetrics:
    """Every metric the ingest service exports, on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.grpc = GrpcMetrics(self.registry)
