"""Run a built service until SIGTERM/SIGINT: metrics endpoint, health, graceful drain."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from prometheus_client import (
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

from fraudstream.common.grpc_server import GrpcService

logger = logging.getLogger(__name__)


def start_metrics_server(host: str, port: int, registry: CollectorRegistry) -> int:
    """Serve /metrics for `registry` plus process metrics (CPU, memory, start time); returns
    the bound port."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    try:
        httpd, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise OSError(f"cannot bind metrics port {host}:{port}: {exc.strerror}") from exc
    return int(httpd.server_address[1])


def run_until_signalled(
    service: GrpcService,
    *,
    name: str,
    grace: float,
    on_start: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Start `service`, call `on_start`, block until SIGTERM/SIGINT, then stop gracefully.

    On a signal, health turns NOT_SERVING, `on_stop` lets the service end its own
    loops and streams, and in-flight RPCs get `grace` seconds to finish.
    """
    stopping = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        stopping.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        service.start()
        if on_start is not None:
            on_start()
        logger.info(
            "%s serving gRPC on port %d", name, service.port, extra={"grpc_port": service.port}
        )
        stopping.wait()
        service.health.enter_graceful_shutdown()
        if on_stop is not None:
            on_stop()
        service.stop(grace)  # runs the service's own stop hooks, then drains
        logger.info("%s stopped", name)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
