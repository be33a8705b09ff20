"""Console test fixtures: a real feedback service, the console on free ports, analyst tokens."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.protobuf import json_format

from fraudstream.common.auth import token_digest
from fraudstream.common.transport import Transport
from fraudstream.console.metrics import ConsoleMetrics
from fraudstream.console.roles import RoleBook
from fraudstream.console.server import ConsoleDeps, ConsoleServer, build_console
from fraudstream.console.settings import ConsoleSettings
from fraudstream.feedback.core import FeedbackCore
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.server import FeedbackDeps
from fraudstream.feedback.server import build_server as build_feedback
from fraudstream.feedback.settings import FeedbackSettings
from fraudstream.v1 import (
    alert_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
)

# The shared feedback test alerts, with every detector's score and more reasons added.
ALERTS_FILE = Path(__file__).resolve().parent / "testdata" / "console_alerts.json"
# name -> (role, token). The tokens file holds all three; the feedback service takes the
# labelers' tokens in clear too, since it labels only for those today.
ANALYSTS = {
    "alice": ("labeler", "tok-alice-console-5b1e"),
    "victor": ("viewer", "tok-victor-console-0c9d"),
    "ada": ("admin", "tok-ada-console-77f2"),
}


# The test's own part of the bridge (ReportAlerts) and of the learner (StreamLabels); it reads.
PIPELINE_TOKEN = "tok-console-pipeline-3a8e"


def token(name: str) -> str:
    return ANALYSTS[name][1]


def load_alerts(prefix: str) -> list[alert_pb2.Alert]:
    """The console's test alerts (testdata/console_alerts.json), event ids `<prefix>-<n>`."""
    alerts = []
    for raw in json.loads(ALERTS_FILE.read_text()):
        alert = json_format.ParseDict(raw, alert_pb2.Alert())
        event_id = f"{prefix}-{alert.transaction.event_id.rpartition('-')[2]}"
        alert.transaction.event_id = alert.score.event_id = event_id
        alerts.append(alert)
    return alerts


@pytest.fixture(scope="session")
def tokens_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tokens") / "tokens"
    path.write_text(
        "".join(f"{name} {role} {token_digest(tok)}\n" for name, (role, tok) in ANALYSTS.items())
        + f"pipeline viewer,service:ingest,service:learner {token_digest(PIPELINE_TOKEN)}\n"
    )
    return path


@dataclass
class FeedbackService:
    """The real feedback service, in process on a free port, with a stub."""

    address: str
    stub: feedback_service_pb2_grpc.FeedbackServiceStub

    def report(self, alerts: list[alert_pb2.Alert]) -> None:
        request = feedback_service_pb2.ReportAlertsRequest(alerts=alerts)
        (response,) = list(self.stub.ReportAlerts(iter([request]), timeout=10))
        assert all(a.status == feedback_service_pb2.ACK_STATUS_ACCEPTED for a in response.acks)

    def labels(self, count: int) -> list[alert_pb2.LabeledExample]:
        """The first `count` entries of the label log, read with StreamLabels."""
        start = feedback_service_pb2.StreamLabelsRequest(
            start=feedback_service_pb2.StreamLabelsStart(consumer="console-test")
        )
        call = self.stub.StreamLabels(iter([start]), timeout=10)
        got: list[alert_pb2.LabeledExample] = []
        for response in call:
            got.extend(response.examples)
            if len(got) >= count:
                break
        call.cancel()
        return got


@pytest.fixture
def feedback(tmp_path: Path, tokens_file: Path) -> Iterator[FeedbackService]:
    labelers = [f"{n}:{tok}" for n, (role, tok) in ANALYSTS.items() if role != "viewer"]
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "metrics_port": 0,
        "data_dir": tmp_path / "var",
        "analyst_tokens": labelers,
        "analyst_tokens_file": tokens_file,
        "publish_labels": False,
        "lease_seconds": 60.0,
    }
    settings = FeedbackSettings(**values)  # type: ignore[arg-type]
    metrics = FeedbackMetrics()
    core = FeedbackCore(settings, metrics)
    service = build_feedback(settings, FeedbackDeps(metrics=metrics, feedback=core))
    service.start()
    address = f"127.0.0.1:{service.port}"
    channel = Transport(token=PIPELINE_TOKEN).channel(address)
    yield FeedbackService(address, feedback_service_pb2_grpc.FeedbackServiceStub(channel))
    channel.close()
    service.stop(1.0)
    core.close()


@dataclass
class RunningConsole:
    server: ConsoleServer
    metrics: ConsoleMetrics

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.metrics.registry.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
def start_console(
    tokens_file: Path,
) -> Iterator[Callable[..., RunningConsole]]:
    """`start_console(feedback_addr=..., learner_addr=..., **settings)`: a started console."""
    running: list[RunningConsole] = []

    def start(**overrides: object) -> RunningConsole:
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": 0,
            "metrics_port": 0,
            "analyst_tokens_file": tokens_file,
            "learner_addr": "127.0.0.1:1",  # nothing listens: the model page says so
            "take_wait_seconds": 3.0,
            "poll_seconds": 1.0,
        }
        values.update(overrides)
        settings = ConsoleSettings(**values)  # type: ignore[arg-type]
        metrics = ConsoleMetrics()
        roles = RoleBook(settings.analyst_tokens_file, settings.analyst_tokens)
        server = build_console(settings, ConsoleDeps(metrics=metrics, roles=roles))
        server.start()
        console = RunningConsole(server, metrics)
        running.append(console)
        return console

    yield start
    for console in running:
        console.server.stop(2.0)
