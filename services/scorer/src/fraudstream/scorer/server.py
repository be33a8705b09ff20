"""Wiring of the scorer service: servicer, health, reflection, interceptors, metrics."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from fraudstream.common.grpc_server import GrpcService, build_grpc_service
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.servicer import ScoringServiceServicer
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1 import scoring_service_pb2, scoring_service_pb2_grpc

SERVICE_NAME = scoring_service_pb2.DESCRIPTOR.services_by_name["ScoringService"].full_name


@dataclass
class ScorerDeps:
    """What the scorer server needs besides its settings."""

    metrics: ScorerMetrics


def build_server(settings: ScorerSettings, deps: ScorerDeps) -> GrpcService:
    """Build the scorer gRPC server (not started). Tests call this with port 0."""

    def register(server: grpc.Server) -> None:
        scoring_service_pb2_grpc.add_ScoringServiceServicer_to_server(
            ScoringServiceServicer(), server
        )

    return build_grpc_service(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        service_names=(SERVICE_NAME,),
        register=register,
        metrics=deps.metrics.grpc,
    )
