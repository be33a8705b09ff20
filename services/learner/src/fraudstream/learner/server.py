"""Wiring of the learner service: servicer, health, reflection, interceptors, metrics."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from fraudstream.common.grpc_server import GrpcService, build_grpc_service
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.servicer import LearnerServiceServicer
from fraudstream.learner.settings import LearnerSettings
from fraudstream.v1 import learner_service_pb2, learner_service_pb2_grpc

SERVICE_NAME = learner_service_pb2.DESCRIPTOR.services_by_name["LearnerService"].full_name


@dataclass
class LearnerDeps:
    """What the learner server needs besides its settings."""

    metrics: LearnerMetrics


def build_server(settings: LearnerSettings, deps: LearnerDeps) -> GrpcService:
    """Build the learner gRPC server (not started). Tests call this with port 0."""

    def register(server: grpc.Server) -> None:
        learner_service_pb2_grpc.add_LearnerServiceServicer_to_server(
            LearnerServiceServicer(), server
        )

    return build_grpc_service(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        service_names=(SERVICE_NAME,),
        register=register,
        metrics=deps.metrics.grpc,
    )
