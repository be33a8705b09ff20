"""Wiring of the ingest service: servicer, health, reflection, interceptors, metrics."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from fraudstream.common.grpc_server import GrpcService, build_grpc_service
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.settings import IngestSettings


@dataclass
class IngestDeps:
    """What the ingest server needs besides its settings."""

    metrics: IngestMetrics


def build_server(settings: IngestSettings, deps: IngestDeps) -> GrpcService:
    """Build the ingest gRPC server (not started). Tests call this with port 0."""

    def register(server: grpc.Server) -> None:
        """The bridge serves only health and reflection; its work is the Kafka loop."""

    return build_grpc_service(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        service_names=(),
        register=register,
        metrics=deps.metrics.grpc,
    )
