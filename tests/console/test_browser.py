"""The console in a real browser: Debian's chromium driven by Playwright (no browser download).

The feedback service is the real one in process; the console runs on a free port; one
chromium serves the whole session, each test gets a fresh browser context (no shared
cookies). Screenshots go to $FRAUDSTREAM_CONSOLE_SCREENSHOTS (docs/console for the docs)
or to a temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.server import build_server as build_learner
from fraudstream.learner.server import open_deps
from fraudstream.learner.settings import LearnerSettings
from fraudstream.v1 import alert_pb2, feedback_service_pb2

from .conftest import FeedbackService, RunningConsole, load_alerts, token

pytestmark = pytest.mark.integration
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_LABELED = feedback_service_pb2.ListAlertsRequest(state=alert_pb2.CASE_STATE_LABELED)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the session: Debian's, never a downloaded one."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("the browser tests need Debian's chromium: apt-get install -y chromium")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("FRAUDSTREAM_CONSOLE_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def console(
    feedback: FeedbackService, start_console: Callable[..., RunningConsole]
) -> RunningConsole:
    feedback.report(load_alerts("case"))
    return start_console(feedback_addr=feedback.address)


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[RunningConsole], Any]]:
    """`new_page(console)`: a page in a fresh context (its own cookies) on the console."""
    contexts: list[Any] = []

    def make(console: RunningConsole) -> Any:
        context = browser.new_context(base_url=console.url, viewport={"width": 1200, "height": 800})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Any, name: str) -> None:
    page.goto("/signin")
    page.fill("#token", token(name))
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")


def test_analyst_signs_in_takes_a_case_and_labels_it(
    console: RunningConsole, feedback: FeedbackService, new_page: Callable[..., Any], shots: Path
) -> None:
    page = new_page(console)
    expect = sync_api.expect
    page.goto("/signin")
    page.screenshot(path=shots / "signin.png")
    sign_in(page, "alice")
    expect(page.locator("[data-live=alerts]")).to_have_text("5")  # the live counter polled
    expect(page.locator(".who")).to_contain_text("alice (labeler)")
    page.screenshot(path=shots / "queue.png", full_page=True)

    alerts = sorted(load_alerts("case"), key=lambda a: -a.score.risk)
    riskiest = alerts[0].transaction.event_id
    page.click("#take")
    page.wait_for_url(f"**/cases/{riskiest}")
    expect(page.locator("#case-state")).to_have_text("leased")
    reason = alerts[0].score.reasons[0].text
    expect(page.locator("ol.reasons")).to_contain_text(reason)
    # The test alerts were scored without account features: no history section.
    expect(page.locator("#history")).to_have_count(0)
    page.fill("#note", "origin emptied into a mule account")
    page.screenshot(path=shots / "case.png", full_page=True)
    page.click("button[value=fraud]")

    page.wait_for_url("**/queue")
    expect(page.locator(".notice.ok")).to_contain_text(f"Case {riskiest} labeled fraud: label #1")
    (label,) = feedback.labels(1)
    assert (label.event_id, label.verdict, label.analyst) == (
        riskiest,
        alert_pb2.VERDICT_FRAUD,
        "alice",
    )
    # One labeled, the next leased to alice at once: three open, counted live.
    expect(page.locator("[data-live=open]")).to_have_text("3")
    expect(page.locator("#held")).to_contain_text(alerts[1].transaction.event_id)

    page.click("#signout button")
    page.wait_for_url("**/signin")
    page.goto("/queue")
    assert page.url.endswith("/signin")


def test_a_viewer_cannot_label(
    console: RunningConsole, feedback: FeedbackService, new_page: Callable[..., Any]
) -> None:
    page = new_page(console)
    expect = sync_api.expect
    sign_in(page, "victor")
    expect(page.locator(".who")).to_contain_text("victor (viewer)")
    expect(page.locator("#take")).to_have_count(0)
    page.goto("/cases/case-0")
    expect(page.locator("h1")).to_contain_text("case-0")
    expect(page.locator("form#verdict")).to_have_count(0)
    # A hand-made POST with the viewer's own valid CSRF token is refused all the same.
    csrf = page.input_value("#signout input[name=csrf]")
    refused = page.request.post(
        "/cases/case-0/verdict", form={"csrf": csrf, "verdict": "fraud", "note": ""}
    )
    assert refused.status == 403
    taken = page.request.post("/queue/take", form={"csrf": csrf})
    assert taken.status == 403
    assert feedback.stub.ListAlerts(_LABELED, timeout=5).total_size == 0


def test_a_signed_out_user_sees_nothing(
    console: RunningConsole, new_page: Callable[..., Any]
) -> None:
    page = new_page(console)
    for path in ("/queue", "/cases/case-0", "/model"):
        page.goto(path)
        assert page.url.endswith("/signin"), path
        assert "case-0" not in page.content()
    assert page.request.get("/api/live").status == 401
    forged = page.request.post("/queue/take", form={"csrf": "x"}, max_redirects=0)
    assert forged.status == 302 and forged.headers["location"].endswith("/signin")
    page.fill("#token", "not-a-token")
    page.click("button[type=submit]")
    sync_api.expect(page.locator(".notice.error")).to_contain_text("not accepted")
    assert re.search(r"/signin$", page.url)


@pytest.fixture
def learner(model_bundle: Path, tmp_path: Path, tokens_file: Path) -> Iterator[str]:
    """The real learner on a free port, started from a trained bundle (no label feed); it
    reads the analysts' tokens file as the console does."""
    settings = LearnerSettings(  # type: ignore[call-arg]
        host="127.0.0.1",
        port=0,
        models=model_bundle,
        data_dir=tmp_path / "learner",
        feedback_addr="",
        analyst_tokens_file=tokens_file,
    )
    service = build_learner(settings, open_deps(settings, LearnerMetrics()))
    service.start()
    service.set_serving(True)
    yield f"127.0.0.1:{service.port}"
    service.stop(0.5)


def test_model_page_shows_the_learner(
    feedback: FeedbackService,
    learner: str,
    start_console: Callable[..., RunningConsole],
    new_page: Callable[..., Any],
    shots: Path,
) -> None:
    console = start_console(feedback_addr=feedback.address, learner_addr=learner)
    page = new_page(console)
    sign_in(page, "ada")
    page.click("nav >> text=Model")
    page.wait_for_url("**/model")
    expect = sync_api.expect
    expect(page.locator("#champion-version")).to_have_text("0")
    expect(page.locator("table.comparison")).to_contain_text("pr auc")
    if console.server.console.backend.rollback_supported:
        expect(page.locator("form#rollback")).to_have_count(1)
    else:
        expect(page.locator("main")).to_contain_text("Rollback is not available")
    page.screenshot(path=shots / "model.png", full_page=True)
