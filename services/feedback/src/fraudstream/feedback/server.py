"""Wiring of the feedback service: servicer, health, reflection, interceptors, metrics."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from fraudstream.common.grpc_server import GrpcService, build_grpc_service
from fraudstream.feedback.core import Feedback
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.servicer import FeedbackServiceServicer
from fraudstream.feedback.settings import FeedbackSettings
from fraudstream.v1 import feedback_service_pb2, feedback_service_pb2_grpc

SERVICE_NAME = feedback_service_pb2.DESCRIPTOR.services_by_name["FeedbackService"].full_name


@dataclass
class FeedbackDeps:
    """What the feedback server needs besides its settings.

    `feedback` is the core (store, queue, label log, publisher); the caller
    builds it, starts it, and stops it on shutdown.
    """

    metrics: FeedbackMetrics
    feedback: Feedback


def build_server(settings: FeedbackSettings, deps: FeedbackDeps) -> GrpcService:
    """Build the feedback gRPC server (not started). Tests call this with port 0."""

    def register(server: grpc.Server) -> None:
        feedback_service_pb2_grpc.add_FeedbackServiceServicer_to_server(
            FeedbackServiceServicer(deps.feedback), server
        )

    return build_grpc_service(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        service_names=(SERVICE_NAME,),
        register=register,
        metrics=deps.metrics.grpc,
    )
