"""Wiring of the ingest service: health and reflection server, the Kafka bridge, its watch."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import grpc

from fraudstream.common.grpc_server import build_grpc_service
from fraudstream.common.health_watch import watch_health
from fraudstream.common.lifecycle import Service, ThreadWorker
from fraudstream.common.security import server_security
from fraudstream.ingest.assembly import IngestBridge
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.progress import bridge_condition
from fraudstream.ingest.settings import IngestSettings

# Beyond the grace period the bridge's own stop is bounded by, before the lifecycle gives up
# waiting for its thread (it should never need it).
_JOIN_MARGIN_SECONDS = 5.0


@dataclass
class IngestDeps:
    """What the ingest server needs besides its settings."""

    metrics: IngestMetrics = field(default_factory=IngestMetrics)


def build_server(settings: IngestSettings, deps: IngestDeps) -> Service:
    """Build the ingest service (not started): its server, the bridge and the health watch.

    Health is SERVING only while the bridge holds partitions and makes progress. Tests call
    this with port 0 and run the real lifecycle.
    """

    def register(server: grpc.Server) -> None:
        """The bridge has no API of its own; health says whether it holds partitions and flows."""

    # No data RPCs of its own (an empty policy admits nobody to anything but health).
    security = server_security(settings, {}, service="ingest", metrics=deps.metrics.grpc.limits)
    grpc_service = build_grpc_service(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        service_names=(),
        register=register,
        metrics=deps.metrics.grpc,
        **security.grpc_options(),
    )
    service = Service("ingest", grpc_service)
    bridge = IngestBridge(settings, deps.metrics)
    service.add_worker(
        ThreadWorker(
            "bridge", bridge.run, join_timeout=settings.grace_seconds + _JOIN_MARGIN_SECONDS
        )
    )
    # Newest first on stop: the watch ends before the bridge, so health stays NOT_SERVING.
    service.add_worker(
        ThreadWorker(
            "health-watch",
            functools.partial(
                watch_health,
                functools.partial(bridge_condition, bridge.progress),
                service.set_serving,
            ),
        )
    )
    return service
