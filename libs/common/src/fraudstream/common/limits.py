"""Bounded server resources: long-lived streams get their own capacity, below the thread pool.

Every open stream holds one of the server's threads for as long as it lives. Without a limit,
as many idle streams as there are threads stop the service from answering anything, health
included. Streams beyond the limit are refused at once with RESOURCE_EXHAUSTED (the caller
retries later), so unary calls and health checks always find a free thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge

logger = logging.getLogger(__name__)


class LimitMetrics:
    """Streams open and refused, and whether anonymous callers are admitted."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.streams_open = Gauge(
            "grpc_server_streams_open", "Long-lived streams being served now.", registry=registry
        )
        self.streams_refused = Counter(
            "grpc_server_streams_refused_total",
            "Streams refused with RESOURCE_EXHAUSTED because the stream limit was reached.",
            ["grpc_method"],
            registry=registry,
        )
        self.anonymous_allowed = Gauge(
            "grpc_server_anonymous_allowed",
            "1 when the development switch admits callers without credentials.",
            registry=registry,
        )


class StreamLimit(grpc.ServerInterceptor):
    """Refuses a streaming RPC with RESOURCE_EXHAUSTED while `limit` streams are open."""

    def __init__(self, limit: int, metrics: LimitMetrics | None = None) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._metrics = metrics

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or not (handler.request_streaming or handler.response_streaming):
            return handler
        method = handler_call_details.method.rpartition("/")[2]
        kwargs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                self._streaming(handler.stream_stream, method), **kwargs
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(handler.unary_stream, method), **kwargs
            )
        assert handler.stream_unary is not None  # the one kind left
        return grpc.stream_unary_rpc_method_handler(
            self._unary_response(handler.stream_unary, method), **kwargs
        )

    def _enter(self, method: str, context: grpc.ServicerContext) -> Callable[[], None]:
        """Take a slot or abort; returns the (idempotent) release of the slot taken."""
        if not self._slots.acquire(blocking=False):
            if self._metrics is not None:
                self._metrics.streams_refused.labels(method).inc()
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{method}: this server already serves {self.limit} streams; retry later",
            )
        if self._metrics is not None:
            self._metrics.streams_open.inc()
        lock, released = threading.Lock(), [False]

        def release() -> None:
            with lock:
                if released[0]:
                    return
                released[0] = True
            self._slots.release()
            if self._metrics is not None:
                self._metrics.streams_open.dec()

        # Also on cancellation: a handler blocked on its peer may end only later.
        context.add_callback(release)
        return release

    def _streaming(
        self, behavior: Callable[..., Iterator[Any]], method: str
    ) -> Callable[[Any, grpc.ServicerContext], Iterator[Any]]:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            release = self._enter(method, context)
            try:
                yield from behavior(request, context)
            finally:
                release()

        return call

    def _unary_response(
        self, behavior: Callable[..., Any], method: str
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            release = self._enter(method, context)
            try:
                return behavior(request, context)
            finally:
                release()

        return call
