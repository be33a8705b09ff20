"""The console over HTTP without a browser: sessions, CSRF, roles, labels reaching the log.

The feedback service is the real one, in process (build_server on a free port); requests go
through the console's Flask app (its test client), so every rule is checked server-side.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from fraudstream.v1 import alert_pb2, feedback_service_pb2

from .conftest import FeedbackService, RunningConsole, load_alerts, token

_LEASED = feedback_service_pb2.ListAlertsRequest(state=alert_pb2.CASE_STATE_LEASED)


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} field in the page"
    return found.group(1)


def sign_in(client: FlaskClient, analyst_token: str) -> tuple[int, str]:
    """Sign in through the form; (status, csrf token of the new session or '')."""
    nonce = _field(client.get("/signin").get_data(as_text=True), "nonce")
    response = client.post("/signin", data={"nonce": nonce, "token": analyst_token})
    if response.status_code != 302:
        return response.status_code, ""
    return 302, _field(client.get("/queue").get_data(as_text=True), "csrf")


@pytest.fixture
def console(
    feedback: FeedbackService, start_console: Callable[..., RunningConsole]
) -> RunningConsole:
    feedback.report(load_alerts("web"))
    return start_console(feedback_addr=feedback.address)


def test_signed_out_browsers_get_no_data(console: RunningConsole) -> None:
    client = console.server.app.test_client()
    for path in ("/", "/queue", "/cases/web-0", "/model"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.endswith("/signin"), path
    live = client.get("/api/live")
    assert live.status_code == 401 and live.get_json() == {"error": "sign in first"}
    for path in ("/queue/take", "/cases/web-0/verdict", "/model/rollback", "/signout"):
        assert client.post(path, data={"verdict": "fraud"}).status_code == 302, path
    assert "web-0" not in client.get("/signin").get_data(as_text=True)
    assert console.metric("console_requests_total", {"route": "/api/live", "status": "401"}) == 1


def test_sign_in_refuses_unknown_tokens_and_forged_forms(console: RunningConsole) -> None:
    client = console.server.app.test_client()
    assert sign_in(client, "not-a-token") == (401, "")
    client.get("/signin")
    forged = client.post("/signin", data={"nonce": "guess", "token": token("alice")})
    assert forged.status_code == 403
    assert client.get("/queue").status_code == 302
    assert console.metric("console_sign_ins_total", {"outcome": "refused"}) == 1


def test_session_cookie_is_an_opaque_id_and_the_token_never_leaves(
    console: RunningConsole,
) -> None:
    client = console.server.app.test_client()
    nonce = _field(client.get("/signin").get_data(as_text=True), "nonce")
    response = client.post("/signin", data={"nonce": nonce, "token": token("alice")})
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if "console_session=" in h)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert token("alice") not in cookie
    for path in ("/queue", "/cases/web-0", "/api/live"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert token("alice") not in page.get_data(as_text=True)
        assert page.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert console.metric("console_sign_ins_total", {"outcome": "ok"}) == 1


def test_labeler_takes_the_riskiest_case_and_the_label_reaches_the_log(
    console: RunningConsole, feedback: FeedbackService
) -> None:
    client = console.server.app.test_client()
    _, csrf = sign_in(client, token("alice"))
    riskiest = max(load_alerts("web"), key=lambda a: a.score.risk).transaction.event_id
    taken = client.post("/queue/take", data={"csrf": csrf})
    assert taken.status_code == 302 and taken.location.endswith(f"/cases/{riskiest}")
    page = client.get(f"/cases/{riskiest}").get_data(as_text=True)
    assert 'value="fraud"' in page and 'value="legit"' in page and "leased" in page
    verdict = client.post(
        f"/cases/{riskiest}/verdict",
        data={"csrf": csrf, "verdict": "fraud", "note": "mule account"},
    )
    assert verdict.status_code == 302
    assert "label #1" in client.get("/queue").get_data(as_text=True)
    # As in the terminal UI, the service leases the next riskiest case to alice right after
    # the ack (pushed on the stream a moment later).
    alerts = sorted(load_alerts("web"), key=lambda a: -a.score.risk)
    held = f'You hold case <a href="/cases/{alerts[1].transaction.event_id}"'
    deadline = time.monotonic() + 5
    while held not in client.get("/queue").get_data(as_text=True):
        assert time.monotonic() < deadline, "the next case was not leased to alice"
        time.sleep(0.05)
    (label,) = feedback.labels(1)
    assert (label.event_id, label.verdict, label.analyst) == (
        riskiest,
        alert_pb2.VERDICT_FRAUD,
        "alice",
    )
    assert console.metric("console_labels_submitted_total", {"verdict": "fraud"}) == 1
    route = {"route": "/cases/<event_id>/verdict", "status": "302"}
    assert console.metric("console_requests_total", route) == 1


def test_posts_without_the_session_csrf_token_are_refused(
    console: RunningConsole, feedback: FeedbackService
) -> None:
    client = console.server.app.test_client()
    _, csrf = sign_in(client, token("alice"))
    assert client.post("/queue/take", data={}).status_code == 403
    assert client.post("/queue/take", data={"csrf": csrf + "x"}).status_code == 403
    other = console.server.app.test_client()
    _, other_csrf = sign_in(other, token("ada"))
    assert client.post("/queue/take", data={"csrf": other_csrf}).status_code == 403
    # Nothing was taken by the refused posts.
    assert feedback.stub.ListAlerts(_LEASED, timeout=5).total_size == 0


def test_a_viewer_reads_cases_but_cannot_label(
    console: RunningConsole, feedback: FeedbackService
) -> None:
    client = console.server.app.test_client()
    status, csrf = sign_in(client, token("victor"))
    assert status == 302
    queue = client.get("/queue").get_data(as_text=True)
    assert "web-0" in queue and 'id="take"' not in queue
    case = client.get("/cases/web-0").get_data(as_text=True)
    assert "Transaction" in case and 'value="fraud"' not in case
    assert client.post("/queue/take", data={"csrf": csrf}).status_code == 403
    refused = client.post("/cases/web-0/verdict", data={"csrf": csrf, "verdict": "fraud"})
    assert refused.status_code == 403 and "labeler role" in refused.get_data(as_text=True)
    assert client.post("/model/rollback", data={"csrf": csrf}).status_code == 403
    assert feedback.stub.ListAlerts(_LEASED, timeout=5).total_size == 0
    assert console.metric("console_labels_submitted_total", {"verdict": "fraud"}) == 0


def test_sign_out_ends_the_session_and_gives_the_case_back(
    console: RunningConsole, feedback: FeedbackService
) -> None:
    client = console.server.app.test_client()
    _, csrf = sign_in(client, token("alice"))
    client.post("/queue/take", data={"csrf": csrf})
    assert feedback.stub.ListAlerts(_LEASED, timeout=5).total_size == 1
    cookie = client.get_cookie("console_session")
    assert cookie is not None
    assert client.post("/signout", data={"csrf": csrf}).status_code == 302
    assert feedback.stub.ListAlerts(_LEASED, timeout=5).total_size == 0
    replay = console.server.app.test_client()
    replay.set_cookie("console_session", cookie.value)
    assert replay.get("/queue").status_code == 302  # the old id is worth nothing now


def test_idle_sessions_expire(
    feedback: FeedbackService, start_console: Callable[..., RunningConsole]
) -> None:
    console = start_console(feedback_addr=feedback.address, session_idle_minutes=0.01)
    client = console.server.app.test_client()
    sign_in(client, token("alice"))
    assert client.get("/queue").status_code == 200
    time.sleep(0.7)
    assert client.get("/queue").status_code == 302
    assert client.get("/api/live").status_code == 401


def test_live_counts_and_an_unreachable_learner(console: RunningConsole) -> None:
    client = console.server.app.test_client()
    sign_in(client, token("victor"))
    assert client.get("/api/live").get_json() | {"at": ""} == {
        "open": 5,
        "leased": 0,
        "labeled": 0,
        "alerts": 5,
        "at": "",
    }
    model = client.get("/model")
    assert model.status_code == 503 and "learner" in model.get_data(as_text=True)


def test_two_analysts_are_leased_different_cases_and_a_skip_gives_one_back(
    console: RunningConsole, feedback: FeedbackService
) -> None:
    alice, ada = console.server.app.test_client(), console.server.app.test_client()
    _, alice_csrf = sign_in(alice, token("alice"))
    _, ada_csrf = sign_in(ada, token("ada"))
    first = alice.post("/queue/take", data={"csrf": alice_csrf}).location
    second = ada.post("/queue/take", data={"csrf": ada_csrf}).location
    assert first.endswith("/cases/web-0") and second.endswith("/cases/web-1")
    # ada cannot label alice's case: it is not leased to her.
    refused = ada.post("/cases/web-0/verdict", data={"csrf": ada_csrf, "verdict": "legit"})
    assert refused.status_code == 409
    assert ada.post("/cases/web-1/skip", data={"csrf": ada_csrf}).status_code == 302
    # web-1 is back in the queue, and never offered to the session that skipped it again.
    assert ada.post("/queue/take", data={"csrf": ada_csrf}).location.endswith("/cases/web-2")
    assert feedback.stub.ListAlerts(_LEASED, timeout=5).total_size == 2


def test_taking_from_an_empty_queue_says_so(
    feedback: FeedbackService, start_console: Callable[..., RunningConsole]
) -> None:
    console = start_console(feedback_addr=feedback.address, take_wait_seconds=0.5)
    client = console.server.app.test_client()
    _, csrf = sign_in(client, token("alice"))
    taken = client.post("/queue/take", data={"csrf": csrf})
    assert taken.status_code == 302 and taken.location.endswith("/queue")
    assert "No open case to take right now." in client.get("/queue").get_data(as_text=True)


def test_an_abandoned_session_gives_its_case_back_when_swept(
    feedback: FeedbackService, start_console: Callable[..., RunningConsole]
) -> None:
    feedback.report(load_alerts("gone"))
    console = start_console(feedback_addr=feedback.address, session_idle_minutes=0.01)
    client = console.server.app.test_client()
    _, csrf = sign_in(client, token("alice"))
    client.post("/queue/take", data={"csrf": csrf})
    assert feedback.stub.ListAlerts(_LEASED, timeout=5).total_size == 1
    time.sleep(0.7)
    assert console.server.console.sessions.sweep() == 1  # what the sweeper thread does
    assert feedback.stub.ListAlerts(_LEASED, timeout=5).total_size == 0
