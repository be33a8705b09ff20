"""Loading the bundle: checksums are verified; the scorer is NOT_SERVING until a model loads."""

from __future__ import annotations

import json
import shutil
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.scorer.loader import load_until_ready
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.server import ScorerDeps, build_server
from fraudstream.scorer.serving_model import ModelHolder, ModelLoadError, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1 import scoring_service_pb2, scoring_service_pb2_grpc


def _copy(model_bundle, tmp_path):
    target = tmp_path / "models"
    shutil.copytree(model_bundle, target)
    return target


def test_a_tampered_artifact_is_refused_by_name(model_bundle, tmp_path):
    bundle = _copy(model_bundle, tmp_path)
    manifest = json.loads((bundle / "manifest.json").read_text())
    artifact = sorted(manifest["artifacts"])[0]
    with (bundle / artifact).open("ab") as damaged:
        damaged.write(b"\0")
    with pytest.raises(ModelLoadError, match=artifact):
        load_serving_model(bundle)


def test_a_missing_bundle_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match=r"manifest\.json"):
        load_serving_model(tmp_path / "nowhere")


def test_not_serving_until_the_bundle_appears(model_bundle, tmp_path):
    target = tmp_path / "models"
    deps = ScorerDeps(metrics=ScorerMetrics(), holder=ModelHolder())
    service = build_server(
        ScorerSettings(port=0, learner_addr="", insecure_allow_anonymous=True), deps
    )
    service.start()
    stop = threading.Event()
    loader = threading.Thread(
        target=load_until_ready,
        args=(target, deps.holder, deps.metrics, stop, 0.1),
        kwargs={"on_loaded": lambda _m: service.set_serving(True)},
    )
    loader.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            assert health.Check(health_pb2.HealthCheckRequest()).status == (
                health_pb2.HealthCheckResponse.NOT_SERVING
            )
            scorer = scoring_service_pb2_grpc.ScoringServiceStub(channel)
            with pytest.raises(grpc.RpcError) as not_yet:
                scorer.GetModelInfo(scoring_service_pb2.GetModelInfoRequest(), timeout=5)
            assert not_yet.value.code() == grpc.StatusCode.FAILED_PRECONDITION

            shutil.copytree(model_bundle, target)
            assert deps.holder.wait_loaded(timeout=10)
            loader.join(timeout=10)
            assert health.Check(health_pb2.HealthCheckRequest()).status == (
                health_pb2.HealthCheckResponse.SERVING
            )
            info = scorer.GetModelInfo(scoring_service_pb2.GetModelInfoRequest(), timeout=5)
            assert info.bundle_version == deps.holder.current.bundle_version
    finally:
        stop.set()
        service.stop(0)
