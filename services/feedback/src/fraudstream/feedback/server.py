"""Wiring of the feedback service: servicer, health, reflection, interceptors, metrics."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from fraudstream.common.grpc_server import build_grpc_service
from fraudstream.common.lifecycle import Service
from fraudstream.feedback.core import Feedback
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.servicer import FeedbackServiceServicer
from fraudstream.feedback.settings import FeedbackSettings
from fraudstream.v1 import feedback_service_pb2, feedback_service_pb2_grpc

SERVICE_NAME = feedback_service_pb2.DESCRIPTOR.services_by_name["FeedbackService"].full_name


@dataclass
class FeedbackDeps:
    """What the feedback server needs besides its settings.

    `feedback` is the core (store, queue, label log, publisher); the caller builds it and
    closes its store once the service has stopped.
    """

    metrics: FeedbackMetrics
    feedback: Feedback


@dataclass
class _CoreWorker:
    """The core's background work: the label publisher runs, and on stop the Review and
    StreamLabels streams end cleanly and the publisher flushes within `flush_timeout`."""

    feedback: Feedback
    flush_timeout: float
    name: str = "feedback-core"

    def start(self) -> None:
        self.feedback.start()

    def stop(self) -> None:
        self.feedback.stop(self.flush_timeout)


def build_server(settings: FeedbackSettings, deps: FeedbackDeps) -> Service:
    """Build the feedback service (not started): server and core worker. Tests call this with
    port 0; it is SERVING once started."""

    def register(server: grpc.Server) -> None:
        feedback_service_pb2_grpc.add_FeedbackServiceServicer_to_server(
            FeedbackServiceServicer(deps.feedback), server
        )

    grpc_service = build_grpc_service(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        service_names=(SERVICE_NAME,),
        register=register,
        metrics=deps.metrics.grpc,
    )
    # Half the grace period is the publisher's flush budget; the rest drains RPCs.
    core = _CoreWorker(deps.feedback, flush_timeout=min(5.0, settings.grace_seconds / 2))
    return Service("feedback", grpc_service, [core], ready_when_started=True)
