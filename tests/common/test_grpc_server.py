"""The shared server wiring, through a real in-process server on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry

from fraudstream.common import errors
from fraudstream.common.grpc_errors import GrpcMetrics
from fraudstream.common.grpc_server import GrpcService, build_grpc_service

SERVICE = "test.Echo"


def _unary(request: bytes, context: grpc.ServicerContext) -> bytes:
    if request == b"bad":
        raise errors.InvalidArgument("amount must be finite and >= 0, got -5")
    if request == b"who":
        raise errors.Unauthenticated("a bearer token is required")
    return request


def _bidi(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
    for request in requests:
        if request == b"stop":
            raise errors.FailedPrecondition("no model loaded yet")
        yield request.upper()


def _register(server: grpc.Server) -> None:
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(_unary),
        "Bidi": grpc.stream_stream_rpc_method_handler(_bidi),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@pytest.fixture
def served() -> Iterator[tuple[GrpcService, grpc.Channel, CollectorRegistry]]:
    registry = CollectorRegistry()
    service = build_grpc_service(
        host="127.0.0.1",
        port=0,
        max_workers=4,
        service_names=[SERVICE],
        register=_register,
        metrics=GrpcMetrics(registry),
    )
    service.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{service.port}")
    yield service, channel, registry
    channel.close()
    service.stop(0)


def _health(channel: grpc.Channel, name: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return int(stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status)


def test_health_starts_not_serving_and_follows_the_service(served):
    service, channel, _ = served
    assert _health(channel, "") == health_pb2.HealthCheckResponse.NOT_SERVING
    service.set_serving(True)
    assert _health(channel, "") == health_pb2.HealthCheckResponse.SERVING
    assert _health(channel, SERVICE) == health_pb2.HealthCheckResponse.SERVING


def test_domain_errors_map_to_status_codes_on_unary_calls(served):
    _, channel, registry = served
    call = channel.unary_unary(f"/{SERVICE}/Unary")
    assert call(b"ok", timeout=5) == b"ok"
    with pytest.raises(grpc.RpcError) as bad:
        call(b"bad", timeout=5)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "got -5" in bad.value.details()
    with pytest.raises(grpc.RpcError) as anonymous:
        call(b"who", timeout=5)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    counted = registry.get_sample_value(
        "grpc_server_handled_total",
        {
            "grpc_service": SERVICE,
            "grpc_method": "Unary",
            "grpc_type": "unary",
            "grpc_code": "INVALID_ARGUMENT",
        },
    )
    assert counted == 1


def test_domain_errors_end_streams_with_their_status(served):
    _, channel, _ = served
    call = channel.stream_stream(f"/{SERVICE}/Bidi")
    responses = call(iter([b"a", b"b", b"stop", b"never"]), timeout=5)
    assert next(responses) == b"A"
    assert next(responses) == b"B"
    with pytest.raises(grpc.RpcError) as ended:
        next(responses)
    assert ended.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert ended.value.details() == "no model loaded yet"
