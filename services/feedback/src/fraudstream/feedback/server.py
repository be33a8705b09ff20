"""Wiring of the feedback service: servicer, security, health, reflection, metrics."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc

from fraudstream.common.auth import LABELER, TokenTable
from fraudstream.common.grpc_server import build_grpc_service
from fraudstream.common.lifecycle import Service
from fraudstream.common.security import server_security
from fraudstream.feedback.core import FeedbackCore
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.policy import LABELING_RPCS, POLICY
from fraudstream.feedback.servicer import FeedbackServiceServicer
from fraudstream.feedback.settings import FeedbackSettings
from fraudstream.v1 import feedback_service_pb2, feedback_service_pb2_grpc

logger = logging.getLogger(__name__)

SERVICE_NAME = feedback_service_pb2.DESCRIPTOR.services_by_name["FeedbackService"].full_name


@dataclass
class FeedbackDeps:
    """What the feedback server needs besides its settings.

    `feedback` is the core (store, queue, label log, publisher); the caller builds it and
    closes its store once the service has stopped.
    """

    metrics: FeedbackMetrics
    feedback: FeedbackCore


@dataclass
class _CoreWorker:
    """The core's background work: the label publisher runs, and on stop the Review and
    StreamLabels streams end cleanly and the publisher flushes within `flush_timeout`."""

    feedback: FeedbackCore
    flush_timeout: float
    name: str = "feedback-core"

    def start(self) -> None:
        self.feedback.start()

    def stop(self) -> None:
        self.feedback.stop(self.flush_timeout)


def build_server(settings: FeedbackSettings, deps: FeedbackDeps) -> Service:
    """Build the feedback service (not started): server and core worker. Tests call this with
    port 0; it is SERVING once started. Raises ValueError for unusable tokens or TLS files.

    Clear `analyst_tokens` entries (local runs) label, beside the tokens file's entries.
    """
    security = server_security(
        settings,
        POLICY,
        service="feedback",
        clear_tokens=TokenTable.from_plain(settings.analyst_tokens, [LABELER]),
        metrics=deps.metrics.grpc.limits,
    )
    refused = deps.metrics.unauthenticated

    def count_refusal(method: str) -> None:
        if method in LABELING_RPCS:
            refused.labels(method).inc()

    security.authenticator.on_unauthenticated = count_refusal

    def register(server: grpc.Server) -> None:
        feedback_service_pb2_grpc.add_FeedbackServiceServicer_to_server(
            FeedbackServiceServicer(deps.feedback, security.authenticator), server
        )

    grpc_service = build_grpc_service(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        service_names=(SERVICE_NAME,),
        register=register,
        metrics=deps.metrics.grpc,
        **security.grpc_options(),
    )
    logger.info("feedback security: %s", security.describe())
    # Half the grace period is the publisher's flush budget; the rest drains RPCs.
    core = _CoreWorker(deps.feedback, flush_timeout=min(5.0, settings.grace_seconds / 2))
    return Service("feedback", grpc_service, [core], ready_when_started=True)
