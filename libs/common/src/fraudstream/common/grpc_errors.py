"""Server interceptor: maps DomainError to gRPC status and records per-RPC metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram

from fraudstream.common import errors
from fraudstream.common.limits import LimitMetrics

logger = logging.getLogger(__name__)

_STATUS: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_of(error: errors.DomainError) -> grpc.StatusCode:
    """The gRPC status code for a domain error (UNKNOWN for an unmapped subclass)."""
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return grpc.StatusCode.UNKNOWN


class GrpcMetrics:
    """Per-RPC counters and latency, named as in go-grpc-prometheus so dashboards carry over."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, by method and status code.",
            ["grpc_service", "grpc_method", "grpc_type", "grpc_code"],
            registry=registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from RPC start to its end on the server (whole stream for streaming RPCs).",
            ["grpc_service", "grpc_method", "grpc_type"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 10, 60),
            registry=registry,
        )
        self.limits = LimitMetrics(registry)


def _code_of(context: grpc.ServicerContext, default: grpc.StatusCode) -> str:
    code = context.code() if hasattr(context, "code") else None
    return (code or default).name


class DomainErrorInterceptor(grpc.ServerInterceptor):
    """Turns DomainError into an aborted RPC with its status code and message, for all RPC kinds."""

    def __init__(
        self,
        metrics: GrpcMetrics | None = None,
        authorize: Callable[[str, grpc.ServicerContext], object] | None = None,
    ) -> None:
        self._metrics = metrics
        # Metric children by labels, looked up once: labels() costs microseconds per call.
        self._children: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
        # Called first in every RPC with the full method name; raises Unauthenticated or
        # PermissionDenied (mapped and counted like every other domain error).
        self._authorize = authorize

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        service, _, method = handler_call_details.method.strip("/").rpartition("/")
        # Exactly one of the four is set, whatever the RPC kind.
        behavior: Any = (
            handler.unary_unary
            or handler.unary_stream
            or handler.stream_unary
            or handler.stream_stream
        )
        kind = _rpc_type(handler)
        if self._authorize is not None:
            behavior = _authorized(behavior, handler_call_details.method, self._authorize)
        wrap = self._wrap_stream if handler.response_streaming else self._wrap_unary
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                wrap(behavior, service, method, kind),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                wrap(behavior, service, method, kind),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                wrap(behavior, service, method, kind),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            wrap(behavior, service, method, kind),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _observe(self, service: str, method: str, kind: str, started: float, code: str) -> None:
        if self._metrics is None:
            return
        key = (service, method, kind, code)
        children = self._children.get(key)
        if children is None:
            children = (
                self._metrics.handled.labels(service, method, kind, code),
                self._metrics.handling_seconds.labels(service, method, kind),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(time.perf_counter() - started)

    def _wrap_unary(
        self, behavior: Callable[..., Any], service: str, method: str, kind: str
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                response = behavior(request, context)
            except errors.DomainError as exc:
                self._observe(service, method, kind, started, status_of(exc).name)
                context.abort(status_of(exc), str(exc))
            except Exception:
                self._observe(
                    service, method, kind, started, _code_of(context, grpc.StatusCode.UNKNOWN)
                )
                raise
            self._observe(service, method, kind, started, _code_of(context, grpc.StatusCode.OK))
            return response

        return call

    def _wrap_stream(
        self, behavior: Callable[..., Iterator[Any]], service: str, method: str, kind: str
    ) -> Callable[[Any, grpc.ServicerContext], Iterator[Any]]:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started = time.perf_counter()
            try:
                yield from behavior(request, context)
            except errors.DomainError as exc:
                self._observe(service, method, kind, started, status_of(exc).name)
                context.abort(status_of(exc), str(exc))
            except Exception:
                self._observe(
                    service, method, kind, started, _code_of(context, grpc.StatusCode.UNKNOWN)
                )
                raise
            self._observe(service, method, kind, started, _code_of(context, grpc.StatusCode.OK))

        return call


def _authorized(
    behavior: Callable[..., Any],
    full_method: str,
    authorize: Callable[[str, grpc.ServicerContext], object],
) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        authorize(full_method, context)
        return behavior(request, context)

    return call


def _rpc_type(handler: grpc.RpcMethodHandler) -> str:
    if handler.request_streaming and handler.response_streaming:
        return "bidi_stream"
    if handler.request_streaming:
        return "client_stream"
    if handler.response_streaming:
        return "server_stream"
    return "unary"
