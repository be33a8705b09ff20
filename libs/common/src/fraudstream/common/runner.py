"""The metrics endpoint every service runs beside its server (the lifecycle is lifecycle.py)."""

from __future__ import annotations

import logging

from prometheus_client import (
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

from fraudstream.common.collector import register_collector_metrics

logger = logging.getLogger(__name__)


def start_metrics_server(host: str, port: int, registry: CollectorRegistry) -> int:
    """Serve /metrics for `registry` plus process metrics (CPU, memory, start time, garbage
    collections and their pauses); returns the bound port."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    register_collector_metrics(registry)
    try:
        httpd, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise OSError(f"cannot bind metrics port {host}:{port}: {exc.strerror}") from exc
    return int(httpd.server_address[1])
