"""Fixtures of the feedback tests: test alerts, settings, an in-process server, processes."""

from __future__ import annotations

import json
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import grpc
import pytest
from google.protobuf import json_format

from fraudstream.feedback.core import FeedbackCore
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.server import FeedbackDeps, build_server
from fraudstream.feedback.settings import FeedbackSettings
from fraudstream.v1 import alert_pb2, feedback_service_pb2_grpc

M = TypeVar("M")

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
TOKENS = {"alice": "tok-alice-7f3a", "bob": "tok-bob-19c2"}
TOKEN_SETTING = ",".join(f"{name}:{token}" for name, token in TOKENS.items())


def bearer(analyst: str) -> tuple[tuple[str, str]]:
    """Call metadata authenticating as `analyst`."""
    return (("authorization", f"Bearer {TOKENS[analyst]}"),)


def load_alerts(prefix: str | None = None) -> list[alert_pb2.Alert]:
    """The test alerts (tests/testdata/feedback_alerts.json), event ids re-prefixed if asked."""
    alerts = []
    for raw in json.loads((TESTDATA / "feedback_alerts.json").read_text()):
        alert = json_format.ParseDict(raw, alert_pb2.Alert())
        if prefix is not None:
            event_id = f"{prefix}-{alert.transaction.event_id.rpartition('-')[2]}"
            alert.transaction.event_id = alert.score.event_id = event_id
        alerts.append(alert)
    return alerts


@pytest.fixture
def alerts() -> list[alert_pb2.Alert]:
    return load_alerts()


def make_settings(data_dir: Path, **overrides: object) -> FeedbackSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "metrics_port": 0,
        "data_dir": data_dir,
        "analyst_tokens": list(f"{n}:{t}" for n, t in TOKENS.items()),
        "publish_labels": False,
        "lease_seconds": 30.0,
    }
    values.update(overrides)
    return FeedbackSettings(**values)  # type: ignore[arg-type]


@dataclass
class InProcessFeedback:
    """A feedback server built by build_server() on a free port, with a stub on it."""

    feedback: FeedbackCore
    metrics: FeedbackMetrics
    channel: grpc.Channel
    # Calls carry the tester's token (it may report alerts and stream labels) unless they
    # give their own; `bare_stub` sends none.
    stub: feedback_service_pb2_grpc.FeedbackServiceStub
    bare_stub: feedback_service_pb2_grpc.FeedbackServiceStub
    stop: Callable[[], None]

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.metrics.registry.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
def serve_feedback(tmp_path: Path, credentials: Any) -> Iterator[Callable[..., InProcessFeedback]]:
    """Start in-process feedback servers (settings overrides as keywords), stopped at the end.

    They read the session's tokens file (services, the tester) beside the analysts' clear tokens.
    """
    running: list[InProcessFeedback] = []

    def start(**overrides: object) -> InProcessFeedback:
        overrides.setdefault("analyst_tokens_file", credentials.tokens_file)
        settings = make_settings(tmp_path, **overrides)
        metrics = FeedbackMetrics()
        feedback = FeedbackCore(settings, metrics)
        service = build_server(settings, FeedbackDeps(metrics=metrics, feedback=feedback))
        service.start()
        address = f"127.0.0.1:{service.port}"
        channel = credentials.transport().channel(address)
        bare = grpc.insecure_channel(address)

        def stop() -> None:
            channel.close()
            bare.close()
            service.stop(1.0)
            feedback.close()

        served = InProcessFeedback(
            feedback,
            metrics,
            channel,
            feedback_service_pb2_grpc.FeedbackServiceStub(channel),
            feedback_service_pb2_grpc.FeedbackServiceStub(bare),
            stop,
        )
        running.append(served)
        return served

    yield start
    for served in running:
        served.stop()


@pytest.fixture
def feedback_process(tmp_path: Path, start_service: Callable[..., Any]) -> Callable[..., Any]:
    """Start `fraudstream serve feedback` as a process (tests/conftest.py's start_service).

    Every start in one test shares `<tmp_path>/var`, so a restart finds the same state.
    """

    def start(env: dict[str, str] | None = None) -> Any:
        service = start_service(
            "feedback",
            env={
                "FRAUDSTREAM_DATA_DIR": str(tmp_path / "var"),
                "FRAUDSTREAM_ANALYST_TOKENS": TOKEN_SETTING,
                "FRAUDSTREAM_PUBLISH_LABELS": "false",
                "FRAUDSTREAM_GRACE_SECONDS": "3",
                **(env or {}),
            },
        )
        service.wait_until_serving()
        return service

    return start


@pytest.fixture
def auth() -> Callable[[str], tuple[tuple[str, str]]]:
    """`auth("alice")`: call metadata with alice's bearer token."""
    return bearer


@pytest.fixture
def settings_for() -> Callable[..., FeedbackSettings]:
    """`settings_for(data_dir, **overrides)`: test settings (two analysts, no Kafka)."""
    return make_settings


@pytest.fixture
def alerts_with_prefix() -> Callable[[str], list[alert_pb2.Alert]]:
    """`alerts_with_prefix("run7")`: the test alerts with event ids `run7-0`, `run7-1`, ..."""
    return load_alerts


class RequestStream(Generic[M]):
    """The request side of a bidi call, fed by the test while responses are read."""

    def __init__(self, *first: M) -> None:
        self._queue: queue.Queue[M | None] = queue.Queue()
        for message in first:
            self.send(message)

    def send(self, message: M) -> None:
        self._queue.put(message)

    def close(self) -> None:
        self._queue.put(None)

    def __iter__(self) -> Iterator[M]:
        while (message := self._queue.get()) is not None:
            yield message


@pytest.fixture
def request_stream() -> type[RequestStream]:  # type: ignore[type-arg]
    """`request_stream(first, ...)`: a request iterator the test keeps feeding."""
    return RequestStream
