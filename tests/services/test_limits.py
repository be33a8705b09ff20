"""Bounded resources: idle streams cannot starve a service, and leave no memory behind.

The finding this guards: sixteen idle streams took every thread of a service, so nothing,
health included, answered; ten thousand idle anonymous streams left the scorer 204 MB larger.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.scorer.server import ScorerDeps, build_server
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1 import scoring_service_pb2, scoring_service_pb2_grpc

WORKERS = 8
IDLE_STREAMS = 32
# What the process may keep after the streams closed (allocator slack, gRPC's own caches).
MEMORY_BOUND_BYTES = 24 * 1024 * 1024


def _rss() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def scorer(model_bundle: Path, credentials: Any) -> Iterator[tuple[str, ScorerDeps]]:
    deps = ScorerDeps(holder=ModelHolder(load_serving_model(model_bundle)))
    settings = ScorerSettings(
        host="127.0.0.1",
        port=0,
        learner_addr="",
        max_workers=WORKERS,
        analyst_tokens_file=credentials.tokens_file,
    )  # type: ignore[call-arg]
    service = build_server(settings, deps)
    service.start()
    yield f"127.0.0.1:{service.port}", deps
    service.stop(0)


def _open_idle(channel: grpc.Channel, count: int, release: threading.Event) -> list[Any]:
    """`count` StreamScores calls that send nothing until `release` is set."""

    def silent() -> Iterator[scoring_service_pb2.StreamScoresRequest]:
        release.wait()
        return
        yield  # a generator that ends without a request

    stub = scoring_service_pb2_grpc.ScoringServiceStub(channel)
    return [stub.StreamScores(silent()) for _ in range(count)]


def _answers(channel: grpc.Channel) -> None:
    """Score and health both answer promptly."""
    stub = scoring_service_pb2_grpc.ScoringServiceStub(channel)
    stub.Score(scoring_service_pb2.ScoreRequest(), timeout=3)
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def _refused(calls: list[Any]) -> list[Any]:
    return [c for c in calls if c.done() and c.code() == grpc.StatusCode.RESOURCE_EXHAUSTED]


def test_idle_streams_never_starve_unary_calls_and_health(scorer, credentials):
    address, deps = scorer
    limit = ScorerSettings(max_workers=WORKERS).stream_limit()  # type: ignore[call-arg]
    assert limit < WORKERS
    release = threading.Event()
    with credentials.transport("admin").channel(address) as channel:
        _answers(channel)  # warm: channels, threads, caches
        gc.collect()
        before = _rss()
        calls = _open_idle(channel, IDLE_STREAMS, release)
        deadline = time.monotonic() + 10
        while len(_refused(calls)) < IDLE_STREAMS - limit and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_refused(calls)) == IDLE_STREAMS - limit
        for _ in range(20):
            _answers(channel)
        registry = deps.metrics.registry
        assert registry.get_sample_value("grpc_server_streams_open") == limit
        refused_total = registry.get_sample_value(
            "grpc_server_streams_refused_total", {"grpc_method": "StreamScores"}
        )
        assert refused_total == IDLE_STREAMS - limit
        release.set()
        for call in calls:
            call.cancel()
        deadline = time.monotonic() + 10
        while registry.get_sample_value("grpc_server_streams_open") and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert registry.get_sample_value("grpc_server_streams_open") == 0
        # Slots freed: a new stream is admitted and answers.
        (reply,) = scoring_service_pb2_grpc.ScoringServiceStub(channel).StreamScores(
            iter([scoring_service_pb2.StreamScoresRequest(batch_id="after")]), timeout=5
        )
        assert reply.batch_id == "after"
    del calls
    gc.collect()
    assert _rss() - before < MEMORY_BOUND_BYTES


def test_anonymous_streams_are_refused_at_once_and_take_no_slot(scorer):
    address, deps = scorer
    release = threading.Event()
    with grpc.insecure_channel(address) as channel:
        calls = _open_idle(channel, 200, release)
        deadline = time.monotonic() + 20
        while not all(c.done() for c in calls) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(c.code() == grpc.StatusCode.UNAUTHENTICATED for c in calls)
        release.set()
    assert deps.metrics.registry.get_sample_value("grpc_server_streams_open") == 0
