"""The console as an mTLS client that forwards each analyst's token, against the real feedback
service over mTLS with its per-RPC policy: the service, not only the console, refuses what a
role may not do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from fraudstream.common import certs
from fraudstream.common.auth import token_digest
from fraudstream.common.transport import Transport
from fraudstream.console.errors import Forbidden
from fraudstream.feedback.core import FeedbackCore
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.server import FeedbackDeps, build_server
from fraudstream.feedback.settings import FeedbackSettings
from fraudstream.v1 import alert_pb2, feedback_service_pb2, feedback_service_pb2_grpc

from .conftest import ANALYSTS, FeedbackService, RunningConsole, load_alerts, token


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    certs.make_certificates(directory)
    return directory


def _transport(cert_dir: Path, name: str) -> Transport:
    files = certs.paths(cert_dir, name)
    return Transport(files.cert, files.key, cert_dir / "ca.pem")


@pytest.fixture
def secured_feedback(tmp_path: Path, cert_dir: Path) -> Iterator[FeedbackService]:
    """The real feedback service over mTLS with its per-RPC policy; its tokens file lacks ada
    (revoked there, not yet in the console's)."""
    tokens_file = tmp_path / "service-tokens"
    tokens_file.write_text(
        "".join(
            f"{n} {role} {token_digest(tok)}\n" for n, (role, tok) in ANALYSTS.items() if n != "ada"
        )
    )
    files = certs.paths(cert_dir, "feedback")
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "data_dir": tmp_path / "var",
        "analyst_tokens_file": tokens_file,
        "publish_labels": False,
        "tls_cert": files.cert,
        "tls_key": files.key,
        "tls_ca": cert_dir / "ca.pem",
    }
    settings = FeedbackSettings(**values)  # type: ignore[arg-type]
    metrics = FeedbackMetrics()
    core = FeedbackCore(settings, metrics)
    service = build_server(settings, FeedbackDeps(metrics=metrics, feedback=core))
    service.start()
    address = f"localhost:{service.port}"
    ingest = _transport(cert_dir, "ingest").channel(address)
    learner = _transport(cert_dir, "learner").channel(address)
    served = FeedbackService(address, feedback_service_pb2_grpc.FeedbackServiceStub(ingest))
    served.report(load_alerts("tls"))
    served.stub = feedback_service_pb2_grpc.FeedbackServiceStub(learner)  # reads the label log
    yield served
    ingest.close()
    learner.close()
    service.stop(1.0)
    core.close()


def _sign_in(client: FlaskClient, analyst_token: str) -> tuple[int, str]:
    page = client.get("/signin").get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post("/signin", data={"nonce": nonce, "token": analyst_token})
    if response.status_code != 302:
        return response.status_code, response.get_data(as_text=True)
    queue = client.get("/queue").get_data(as_text=True)
    return 302, re.search(r'name="csrf" value="([^"]+)"', queue).group(1)  # type: ignore[union-attr]


@pytest.fixture
def tls_console(
    secured_feedback: FeedbackService,
    cert_dir: Path,
    start_console: Callable[..., RunningConsole],
) -> RunningConsole:
    files = certs.paths(cert_dir, "console")
    return start_console(
        feedback_addr=secured_feedback.address,
        tls_cert=files.cert,
        tls_key=files.key,
        tls_ca=cert_dir / "ca.pem",
    )


def test_a_labeler_labels_over_mtls_with_her_own_token(
    tls_console: RunningConsole, secured_feedback: FeedbackService
) -> None:
    client = tls_console.server.app.test_client()
    status, csrf = _sign_in(client, token("alice"))
    assert status == 302
    taken = client.post("/queue/take", data={"csrf": csrf})
    assert taken.status_code == 302 and taken.location.endswith("/cases/tls-0")
    client.post("/cases/tls-0/verdict", data={"csrf": csrf, "verdict": "legit", "note": "ok"})
    (label,) = secured_feedback.labels(1)
    assert (label.event_id, label.verdict, label.analyst) == (
        "tls-0",
        alert_pb2.VERDICT_LEGIT,
        "alice",
    )


def test_the_service_decides_who_signs_in_and_what_a_viewer_may_do(
    tls_console: RunningConsole, secured_feedback: FeedbackService
) -> None:
    # ada is in the console's tokens file but the feedback service no longer takes her token.
    status, body = _sign_in(tls_console.server.app.test_client(), token("ada"))
    assert status == 401 and "not accepted" in body
    viewer = tls_console.server.app.test_client()
    status, _ = _sign_in(viewer, token("victor"))
    assert status == 302
    assert "tls-0" in viewer.get("/queue").get_data(as_text=True)  # ListAlerts as a viewer
    # The console refuses a viewer's take itself; past the console (its own backend, the
    # viewer's token forwarded), the service refuses the Review stream too.
    start = feedback_service_pb2.ReviewRequest(
        start=feedback_service_pb2.ReviewStart(analyst="victor", prefetch=1)
    )
    call = tls_console.server.console.backend.open_review(token("victor"), iter([start]))
    with pytest.raises(Forbidden, match="victor may not call Review"):
        list(call)


def test_without_its_certificate_the_console_cannot_reach_the_service(
    secured_feedback: FeedbackService, start_console: Callable[..., RunningConsole]
) -> None:
    console = start_console(feedback_addr=secured_feedback.address, rpc_timeout_seconds=2.0)
    status, body = _sign_in(console.server.app.test_client(), token("alice"))
    assert status == 503 and "Cannot check the token now" in body
    assert console.metric("console_sign_ins_total", {"outcome": "unavailable"}) == 1
