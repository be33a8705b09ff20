"""Every RPC of every service against every kind of caller, on real in-process servers.

Each server is the one `build_server()` builds, over mutual TLS with certificates from a local
CA and the session's tokens file: services call with their own certificate, people with the
client certificate and their bearer token. An RPC admits a caller when the answer is anything
but UNAUTHENTICATED or PERMISSION_DENIED (an empty request may well be INVALID_ARGUMENT).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.common import certs
from fraudstream.common.lifecycle import Service
from fraudstream.common.transport import Transport
from fraudstream.feedback.core import FeedbackCore
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.server import FeedbackDeps
from fraudstream.feedback.server import build_server as build_feedback
from fraudstream.feedback.settings import FeedbackSettings
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.server import build_server as build_learner
from fraudstream.learner.server import open_deps
from fraudstream.learner.settings import LearnerSettings
from fraudstream.scorer.server import ScorerDeps
from fraudstream.scorer.server import build_server as build_scorer
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1 import feedback_service_pb2 as fb
from fraudstream.v1 import (
    feedback_service_pb2_grpc,
    learner_service_pb2,
    learner_service_pb2_grpc,
    scoring_service_pb2,
    scoring_service_pb2_grpc,
)

SERVICES = ("scorer", "feedback", "learner", "ingest")
PEOPLE = ("viewer", "labeler", "admin")
READERS = {"viewer", "labeler", "admin"}
EVERY_SERVICE = set(SERVICES) | {"console"}

# Who each RPC admits: the table of docs/security.md.
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("scorer", "StreamScores"): {"ingest", "admin"},
    ("scorer", "Score"): READERS | EVERY_SERVICE,
    ("scorer", "GetModelInfo"): READERS | EVERY_SERVICE,
    ("feedback", "ReportAlerts"): {"ingest"},
    ("feedback", "Review"): {"labeler", "admin"},
    ("feedback", "SubmitLabel"): {"labeler", "admin"},
    ("feedback", "ListAlerts"): READERS,
    ("feedback", "StreamLabels"): {"learner"},
    ("learner", "SyncModels"): {"scorer"},
    ("learner", "GetLearnerStatus"): READERS | EVERY_SERVICE,
    ("learner", "Rollback"): {"admin"},
}
CALLERS = (*SERVICES, "console", *PEOPLE)
REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


def _tls(credentials: Any, name: str) -> dict[str, Path]:
    files = certs.paths(credentials.directory, name)
    return {
        "tls_cert": files.cert,
        "tls_key": files.key,
        "tls_ca": credentials.directory / "ca.pem",
    }


@dataclass
class Served:
    service: Service
    close: Callable[[], None]

    @property
    def address(self) -> str:
        return f"localhost:{self.service.port}"


@pytest.fixture(scope="module")
def servers(
    model_bundle: Path, credentials: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Served]]:
    """Scorer, feedback and learner over mTLS, reading the session's tokens file."""
    tmp = tmp_path_factory.mktemp("policies")
    common = {"host": "127.0.0.1", "port": 0, "analyst_tokens_file": credentials.tokens_file}
    scorer = build_scorer(
        ScorerSettings(learner_addr="", **common, **_tls(credentials, "scorer")),  # type: ignore[arg-type]
        ScorerDeps(holder=ModelHolder(load_serving_model(model_bundle))),
    )
    feedback_settings = FeedbackSettings(
        data_dir=tmp / "feedback",
        publish_labels=False,
        **common,  # type: ignore[arg-type]
        **_tls(credentials, "feedback"),
    )
    metrics = FeedbackMetrics()
    core = FeedbackCore(feedback_settings, metrics)
    feedback = build_feedback(feedback_settings, FeedbackDeps(metrics=metrics, feedback=core))
    learner_settings = LearnerSettings(
        models=model_bundle,
        data_dir=tmp / "learner",
        feedback_addr="",
        **common,  # type: ignore[arg-type]
        **_tls(credentials, "learner"),
    )
    learner = build_learner(learner_settings, open_deps(learner_settings, LearnerMetrics()))
    running = {
        "scorer": Served(scorer, lambda: None),
        "feedback": Served(feedback, core.close),
        "learner": Served(learner, lambda: None),
    }
    for served in running.values():
        served.service.start()
    yield running
    for served in running.values():
        served.service.stop(0.5)
        served.close()


def _caller(credentials: Any, who: str) -> Transport:
    """A service with its own certificate; a person with the client certificate and a token."""
    if who in PEOPLE:
        return credentials.transport(who, tls=True)
    return credentials.transport(None, tls=True, cert=who)


def _once(request: Any) -> Iterator[Any]:
    yield request  # then half-close: every stream here ends after its opening


def _call(channel: grpc.Channel, service: str, method: str) -> None:
    if service == "scorer":
        scorer = scoring_service_pb2_grpc.ScoringServiceStub(channel)
        if method == "StreamScores":
            list(scorer.StreamScores(_once(scoring_service_pb2.StreamScoresRequest()), timeout=10))
        elif method == "Score":
            scorer.Score(scoring_service_pb2.ScoreRequest(), timeout=10)
        else:
            scorer.GetModelInfo(scoring_service_pb2.GetModelInfoRequest(), timeout=10)
    elif service == "feedback":
        feedback = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
        if method == "ReportAlerts":
            list(feedback.ReportAlerts(_once(fb.ReportAlertsRequest()), timeout=10))
        elif method == "Review":
            opening = fb.ReviewRequest(start=fb.ReviewStart(prefetch=1))
            list(feedback.Review(_once(opening), timeout=10))
        elif method == "SubmitLabel":
            feedback.SubmitLabel(fb.SubmitLabelRequest(event_id="no-such-case"), timeout=10)
        elif method == "ListAlerts":
            feedback.ListAlerts(fb.ListAlertsRequest(page_size=1), timeout=10)
        else:
            opening = fb.StreamLabelsRequest(start=fb.StreamLabelsStart(consumer="policy-test"))
            list(feedback.StreamLabels(_once(opening), timeout=10))
    else:
        learner = learner_service_pb2_grpc.LearnerServiceStub(channel)
        if method == "SyncModels":
            hello = learner_service_pb2.SyncHello(scorer_id="policy-test")
            opening = learner_service_pb2.SyncModelsRequest(hello=hello)
            list(learner.SyncModels(_once(opening), timeout=10))
        elif method == "Rollback":
            # Nothing promoted yet: an admin gets FAILED_PRECONDITION, and nothing changes.
            learner.Rollback(learner_service_pb2.RollbackRequest(reason="policy test"), timeout=10)
        else:
            learner.GetLearnerStatus(learner_service_pb2.GetLearnerStatusRequest(), timeout=10)


def _code(transport: Transport, address: str, service: str, method: str) -> grpc.StatusCode:
    with transport.channel(address) as channel:
        try:
            _call(channel, service, method)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.mark.parametrize(("service", "method"), sorted(EXPECTED))
def test_each_rpc_admits_exactly_its_roles(servers, credentials, service, method):
    address = servers[service].address
    admitted = {
        who
        for who in CALLERS
        if _code(_caller(credentials, who), address, service, method) not in REFUSED
    }
    assert admitted == EXPECTED[(service, method)]


@pytest.mark.parametrize(("service", "method"), sorted(EXPECTED))
def test_a_certificate_without_a_service_name_or_token_is_unauthenticated(
    servers, credentials, service, method
):
    anonymous = credentials.transport(None, tls=True)  # the client certificate, no token
    code = _code(anonymous, servers[service].address, service, method)
    assert code == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("service", ["scorer", "feedback", "learner"])
def test_health_is_open_to_any_certificate_holder(servers, credentials, service):
    with credentials.transport(None, tls=True).channel(servers[service].address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_certificate_from_another_ca_or_none_cannot_connect(servers, credentials, tmp_path):
    certs.make_certificates(tmp_path, ["ingest"])
    rogue = Transport(tmp_path / "ingest.pem", tmp_path / "ingest.key", tmp_path / "ca.pem")
    address = servers["feedback"].address
    assert _code(rogue, address, "feedback", "ReportAlerts") == grpc.StatusCode.UNAVAILABLE
    # Trusting the right CA does not help a certificate it did not sign.
    mixed = Transport(
        tmp_path / "ingest.pem", tmp_path / "ingest.key", credentials.directory / "ca.pem"
    )
    assert _code(mixed, address, "feedback", "ReportAlerts") == grpc.StatusCode.UNAVAILABLE
    plaintext = credentials.transport("admin")
    assert _code(plaintext, address, "feedback", "ListAlerts") == grpc.StatusCode.UNAVAILABLE
