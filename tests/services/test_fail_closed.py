"""Without credentials a service refuses data RPCs and says how to configure it; the explicit
development switch admits anonymous callers and says so in a metric."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.scorer.server import ScorerDeps, build_server
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1 import scoring_service_pb2, scoring_service_pb2_grpc


def _scorer(model_bundle: Path, **settings: object):
    deps = ScorerDeps(holder=ModelHolder(load_serving_model(model_bundle)))
    service = build_server(
        ScorerSettings(host="127.0.0.1", port=0, learner_addr="", **settings),  # type: ignore[arg-type]
        deps,
    )
    service.start()
    return service, deps


def test_no_tls_and_no_tokens_refuses_data_rpcs_and_says_how_to_configure(model_bundle):
    service, deps = _scorer(model_bundle)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            with pytest.raises(grpc.RpcError) as refused:
                scoring_service_pb2_grpc.ScoringServiceStub(channel).GetModelInfo(
                    scoring_service_pb2.GetModelInfoRequest(), timeout=5
                )
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
    finally:
        service.stop(0)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    details = refused.value.details()
    assert "FRAUDSTREAM_TLS_CERT" in details and "FRAUDSTREAM_ANALYST_TOKENS_FILE" in details
    assert health.status == health_pb2.HealthCheckResponse.SERVING  # health stays open
    registry = deps.metrics.registry
    assert registry.get_sample_value("grpc_server_anonymous_allowed") == 0


def test_the_development_switch_admits_anonymous_callers_loudly(model_bundle, caplog):
    with caplog.at_level("WARNING"):
        service, deps = _scorer(model_bundle, insecure_allow_anonymous=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            stub = scoring_service_pb2_grpc.ScoringServiceStub(channel)
            info = stub.GetModelInfo(scoring_service_pb2.GetModelInfoRequest(), timeout=5)
            # A wrong token is still refused: the switch admits no token, not any token.
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetModelInfo(
                    scoring_service_pb2.GetModelInfoRequest(),
                    metadata=(("authorization", "Bearer guessed"),),
                    timeout=5,
                )
    finally:
        service.stop(0)
    assert info.bundle_version
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "INSECURE" in caplog.text and "anonymous" in caplog.text
    assert deps.metrics.registry.get_sample_value("grpc_server_anonymous_allowed") == 1
