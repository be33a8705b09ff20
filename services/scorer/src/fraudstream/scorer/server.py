"""Wiring of the scorer service: engine, servicer, security, the bundle loader and the sync."""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass, field

from fraudstream.common.grpc_server import build_grpc_service
from fraudstream.common.lifecycle import Service, StopHook, ThreadWorker
from fraudstream.common.security import server_security
from fraudstream.model.drift import RiskDriftMonitor
from fraudstream.scorer.engine import ScoringEngine
from fraudstream.scorer.loader import load_until_ready
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.policy import POLICY
from fraudstream.scorer.servicer import SERVICE_NAME, ScoringServiceServicer, register
from fraudstream.scorer.serving_model import ModelHolder
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.scorer.sync import SnapshotSync

logger = logging.getLogger(__name__)


@dataclass
class ScorerDeps:
    """What the scorer server needs besides its settings."""

    metrics: ScorerMetrics = field(default_factory=ScorerMetrics)
    holder: ModelHolder = field(default_factory=ModelHolder)


def scorer_id(settings: ScorerSettings, port: int) -> str:
    """The name this scorer gives the learner: --scorer-id, else hostname:port."""
    return settings.scorer_id or f"{socket.gethostname()}:{port}"


def build_server(settings: ScorerSettings, deps: ScorerDeps) -> Service:
    """Build the scorer service (not started). Tests call this with port 0.

    Workers, in start order: the bundle loader (when `deps.holder` has no model yet; SERVING
    once it loaded one), the learner sync (its hello waits for a model) and the end of open
    StreamScores streams on stop. With a model already held it is SERVING once started.
    """
    engine = ScoringEngine(
        deps.holder,
        deps.metrics,
        settings.max_batch_size,
        RiskDriftMonitor(window=settings.psi_window),
    )
    servicer = ScoringServiceServicer(engine)
    security = server_security(settings, POLICY, service="scorer", metrics=deps.metrics.grpc.limits)
    grpc_service = build_grpc_service(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        service_names=(SERVICE_NAME,),
        register=lambda server: register(servicer, server),
        metrics=deps.metrics.grpc,
        **security.grpc_options(),
    )
    logger.info("scorer security: %s", security.describe())
    loaded = deps.holder.current is not None
    service = Service("scorer", grpc_service, ready_when_started=loaded)
    if not loaded:

        def load(stop: threading.Event) -> None:
            load_until_ready(
                settings.models,
                deps.holder,
                deps.metrics,
                stop,
                settings.model_retry_seconds,
                on_loaded=lambda _model: service.set_serving(True),
            )

        service.add_worker(ThreadWorker("bundle-loader", load))
    if settings.learner_addr:
        service.add_worker(
            SnapshotSync(
                settings.learner_addr,
                scorer_id(settings, grpc_service.port),
                deps.holder,
                deps.metrics,
                channel_factory=security.transport.channel,
            )
        )
    # Stopped first (newest first): open StreamScores end after the batch in hand.
    service.add_worker(StopHook("score-streams", servicer.shutdown))
    return service
