"""The bundle loader survives any broken bundle, logs each distinct error once, and recovers."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from dataclasses import replace

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.model.bundle import MANIFEST_NAME, file_sha256
from fraudstream.model.compiled import ENGINE_ENV, CompiledForest
from fraudstream.model.features import FEATURE_NAMES
from fraudstream.model.forest import CompactForest
from fraudstream.scorer.loader import load_until_ready
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.server import ScorerDeps, build_server
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.settings import ScorerSettings

RETRY = 0.05


def _health(port: int) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status


# Each passes its checksum and fails differently when unpickled (EOFError, struct.error,
# zlib.error): none of them may end the loader.
@pytest.mark.parametrize("content", [b"", b"\x80\x04\x95garbage", b"\x78\x9c garbage"])
def test_a_checked_artifact_that_is_no_pickle_keeps_the_loader_retrying(
    model_bundle, tmp_path, caplog, content
):
    bundle = tmp_path / "models"
    shutil.copytree(model_bundle, bundle)
    manifest = json.loads((bundle / MANIFEST_NAME).read_text())
    artifact = sorted(manifest["artifacts"])[0]
    (bundle / artifact).write_bytes(content)
    manifest["artifacts"][artifact]["sha256"] = file_sha256(bundle / artifact)
    (bundle / MANIFEST_NAME).write_text(json.dumps(manifest))

    deps = ScorerDeps(metrics=ScorerMetrics(), holder=ModelHolder())
    service = build_server(
        ScorerSettings(port=0, learner_addr="", insecure_allow_anonymous=True), deps
    )
    service.start()
    stop = threading.Event()
    loader = threading.Thread(
        target=load_until_ready,
        args=(bundle, deps.holder, deps.metrics, stop, RETRY),
        kwargs={"on_loaded": lambda _m: service.set_serving(True)},
    )
    caplog.set_level(logging.ERROR, logger="fraudstream.scorer.loader")
    loader.start()
    try:
        time.sleep(20 * RETRY)
        assert loader.is_alive(), "the loader must outlive any broken bundle"
        assert _health(service.port) == health_pb2.HealthCheckResponse.NOT_SERVING
        reports = [r for r in caplog.records if artifact in r.getMessage()]
        assert len(reports) == 1, "one log line per distinct error, not one per retry"
        assert "cannot be loaded" in reports[0].getMessage()

        shutil.copy2(model_bundle / artifact, bundle / artifact)
        shutil.copy2(model_bundle / MANIFEST_NAME, bundle / MANIFEST_NAME)
        assert deps.holder.wait_loaded(timeout=30), "fixing the bundle on disk is enough"
        loader.join(timeout=10)
        assert _health(service.port) == health_pb2.HealthCheckResponse.SERVING
    finally:
        stop.set()
        service.stop(0)


def test_auto_serves_at_once_with_numpy_then_swaps_in_the_compiled_forest(
    model_bundle, monkeypatch
):
    monkeypatch.delenv(ENGINE_ENV, raising=False)  # auto
    holder = ModelHolder()
    served_first: list[type] = []
    load_until_ready(
        model_bundle,
        holder,
        ScorerMetrics(),
        threading.Event(),
        RETRY,
        on_loaded=lambda model: served_first.append(type(_forest(model))),
    )
    assert served_first == [CompactForest]
    deadline = time.monotonic() + 120
    while not isinstance(_forest(holder.current), CompiledForest):
        assert time.monotonic() < deadline, "the compiled forest was never swapped in"
        time.sleep(0.05)
    rows = np.random.default_rng(0).uniform(-1, 3, size=(300, len(FEATURE_NAMES)))
    compiled, numpy_forest = (
        holder.current.ensemble,
        load_serving_model(model_bundle, None, "numpy"),
    )
    np.testing.assert_allclose(
        compiled.score(rows).risk, numpy_forest.ensemble.score(rows).risk, rtol=0, atol=1e-9
    )


def test_the_forest_swap_keeps_the_served_snapshot(model_bundle):
    model = replace(load_serving_model(model_bundle, None, "numpy"), snapshot_version=3)
    holder = ModelHolder(model)
    compiled = load_serving_model(model_bundle, None, "compiled")
    assert not holder.replace_forest("another-bundle", _forest(compiled))
    assert holder.replace_forest(model.bundle_version, _forest(compiled))
    assert isinstance(_forest(holder.current), CompiledForest)
    assert holder.current.snapshot_version == 3
    assert holder.current.ensemble.classifier is model.ensemble.classifier


def _forest(model):
    return model.ensemble.isolation_forest.model
