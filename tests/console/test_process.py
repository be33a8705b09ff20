"""`fraudstream serve console` as a process: serves HTTP, exports /metrics, stops on SIGTERM."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import FeedbackService

pytestmark = pytest.mark.integration


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _get(url: str) -> tuple[int, str, dict[str, str]]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_serve_console_runs_until_sigterm(
    start_service: Callable[..., Any], feedback: FeedbackService, tokens_file: Path
) -> None:
    console = start_service(
        "console",
        wait=False,
        env={
            "FRAUDSTREAM_FEEDBACK_ADDR": feedback.address,
            "FRAUDSTREAM_ANALYST_TOKENS_FILE": str(tokens_file),
        },
    )
    console.wait_for_log(f"console serving http://127.0.0.1:{console.port}/")
    base = f"http://127.0.0.1:{console.port}"
    assert _get(f"{base}/healthz")[0] == 200
    status, _, headers = _get(f"{base}/queue")
    assert status == 302 and headers["Location"].endswith("/signin")
    assert _get(f"{base}/api/live")[0] == 401
    _, metrics, _ = _get(f"http://127.0.0.1:{console.metrics_port}/metrics")
    assert 'console_requests_total{route="/queue",status="302"} 1.0' in metrics
    assert 'console_requests_total{route="/api/live",status="401"} 1.0' in metrics
    assert 'console_sign_ins_total{outcome="ok"} 0.0' in metrics
    assert console.terminate(timeout=15) == 0
    assert "console stopped" in console.log()


def test_a_missing_tokens_file_stops_the_console_with_a_clear_error(
    start_service: Callable[..., Any], tmp_path: Path
) -> None:
    console = start_service(
        "console",
        wait=False,
        env={"FRAUDSTREAM_ANALYST_TOKENS_FILE": str(tmp_path / "absent")},
    )
    assert console.process.wait(timeout=30) == 2
    assert "cannot read the tokens file" in console.log()
