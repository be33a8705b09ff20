"""One gRPC server per service, with health, reflection and the domain-error interceptor."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from fraudstream.common.auth import Authenticator
from fraudstream.common.grpc_errors import DomainErrorInterceptor, GrpcMetrics
from fraudstream.common.limits import StreamLimit
from fraudstream.common.transport import PLAINTEXT, Transport

logger = logging.getLogger(__name__)

# gRPC's own default; each service sizes its own (a scorer batch is larger than a label).
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Keepalive: the server pings quiet connections so a vanished peer's streams end, and closes
# connections with no call at all after a while; clients may not ping more often than this.
_KEEPALIVE_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.max_connection_idle_ms", 300_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 2),
)
# Calls accepted at once (running or waiting for a thread), per thread: beyond it the
# server answers RESOURCE_EXHAUSTED instead of queueing without bound.
_CALLS_PER_THREAD = 8


@dataclass
class GrpcService:
    """A built (not yet started) gRPC server and the handles needed to run and stop it."""

    server: grpc.Server
    health: health.HealthServicer
    port: int
    service_names: tuple[str, ...]

    def start(self) -> None:
        self.server.start()

    def set_serving(self, serving: bool) -> None:
        """Report SERVING or NOT_SERVING for every service and for the server as a whole ('')."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            self.health.set(name, status)

    def stop(self, grace: float) -> None:
        """NOT_SERVING first (balancers stop sending), then drain in-flight RPCs for `grace` s."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def build_grpc_service(
    *,
    host: str,
    port: int,
    max_workers: int,
    service_names: Sequence[str],
    register: Callable[[grpc.Server], None],
    metrics: GrpcMetrics | None = None,
    transport: Transport = PLAINTEXT,
    authenticator: Authenticator | None = None,
    max_streams: int | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> GrpcService:
    """Create a server, let `register` add the servicers, then add health and reflection.

    Health starts NOT_SERVING for every name: the service flips it when it is ready.
    With an `authenticator`, every RPC but health and reflection needs an allowed caller
    (checked first, so a refused caller never takes a stream slot). At most `max_streams`
    streams (default: all threads but a quarter, at least two) are open at once.
    """
    streams = (
        max_streams if max_streams is not None else max(1, max_workers - max(2, max_workers // 4))
    )
    if streams >= max_workers:
        raise ValueError(f"max_streams ({streams}) must be below max_workers ({max_workers})")
    server = grpc.server(
        ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=[
            DomainErrorInterceptor(
                metrics, authenticator.require if authenticator is not None else None
            ),
            StreamLimit(streams, metrics.limits if metrics is not None else None),
        ],
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
            *_KEEPALIVE_OPTIONS,
        ],
        maximum_concurrent_rpcs=max_workers * _CALLS_PER_THREAD,
    )
    register(server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = tuple(service_names)
    reflection.enable_server_reflection(
        (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    bound = transport.add_port(server, f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind gRPC port {host}:{port} (is another process using it?)")
    service = GrpcService(server=server, health=health_servicer, port=bound, service_names=names)
    service.set_serving(False)
    return service
