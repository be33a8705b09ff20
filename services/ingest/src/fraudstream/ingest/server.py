"""Wiring of the ingest bridge's gRPC server: health and reflection only (its work is Kafka)."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from fraudstream.common.grpc_server import GrpcService, build_grpc_service
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.settings import IngestSettings


@dataclass
class IngestDeps:
    """What the ingest server needs besides its settings."""

    metrics: IngestMetrics = field(default_factory=IngestMetrics)


def build_server(settings: IngestSettings, deps: IngestDeps) -> GrpcService:
    """Build the bridge's health/reflection server (not started). Tests call this with port 0."""

    def register(server: grpc.Server) -> None:
        """The bridge has no API of its own; health says whether its loop runs."""

    return build_grpc_service(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        service_names=(),
        register=register,
        metrics=deps.metrics.grpc,
    )
