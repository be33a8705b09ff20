"""Wiring of the scorer service: engine, servicer, health, reflection, interceptors, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from fraudstream.common.grpc_server import GrpcService, build_grpc_service
from fraudstream.model.drift import RiskDriftMonitor
from fraudstream.scorer.engine import ScoringEngine
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.models import ModelHolder
from fraudstream.scorer.servicer import SERVICE_NAME, ScoringServiceServicer, register
from fraudstream.scorer.settings import ScorerSettings


@dataclass
class ScorerDeps:
    """What the scorer server needs besides its settings."""

    metrics: ScorerMetrics = field(default_factory=ScorerMetrics)
    holder: ModelHolder = field(default_factory=ModelHolder)


def build_server(settings: ScorerSettings, deps: ScorerDeps) -> GrpcService:
    """Build the scorer gRPC server (not started). Tests call this with port 0.

    Health is SERVING once `deps.holder` has a model: at once if it has one already.
    """
    engine = ScoringEngine(
        deps.holder,
        deps.metrics,
        settings.max_batch_size,
        RiskDriftMonitor(window=settings.psi_window),
    )
    servicer = ScoringServiceServicer(engine)

    service = build_grpc_service(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        service_names=(SERVICE_NAME,),
        register=lambda server: register(servicer, server),
        metrics=deps.metrics.grpc,
    )
    service.stop_hooks.append(servicer.shutdown)
    if deps.holder.current is not None:
        service.set_serving(True)
    return service
