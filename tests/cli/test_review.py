"""`fraudstream review`: simulated analysts and the terminal UI on an in-process feedback server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from click.testing import CliRunner
from google.protobuf import json_format

from fraudstream.cli.analysts import GroundTruth, SimulatedAnalysts, row_of
from fraudstream.cli.review import review
from fraudstream.feedback.core import FeedbackCore
from fraudstream.feedback.domain import CaseState, Verdict
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.server import FeedbackDeps, build_server
from fraudstream.feedback.settings import FeedbackSettings
from fraudstream.v1 import alert_pb2, feedback_service_pb2, feedback_service_pb2_grpc

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
TRUTH = TESTDATA / "feedback_truth.csv"
TOKEN = "tok-alice-7f3a"
IS_FRAUD = [True, True, False, False, False]  # the isFraud column of feedback_truth.csv


def _alerts(run: str) -> list[alert_pb2.Alert]:
    """The five test alerts, as replayed rows 0..4 of feedback_truth.csv under run `run`."""
    alerts = []
    for raw in json.loads((TESTDATA / "feedback_alerts.json").read_text()):
        alert = json_format.ParseDict(raw, alert_pb2.Alert())
        row = alert.transaction.event_id.rpartition("-")[2]
        alert.transaction.event_id = alert.score.event_id = f"{run}-{row}"
        alerts.append(alert)
    return alerts


@contextmanager
def _feedback_server(
    tmp_path: Path, credentials: Any, port: int = 0
) -> Iterator[tuple[str, FeedbackCore]]:
    """An in-process feedback server holding the test alerts as replayed rows of run 'r-7'.

    Alice labels with her clear token; the tester (the tokens file) reports the alerts.
    """
    settings = FeedbackSettings(
        host="127.0.0.1",
        port=port,
        data_dir=tmp_path,
        analyst_tokens=[f"alice:{TOKEN}"],
        analyst_tokens_file=credentials.tokens_file,
        publish_labels=False,
    )
    metrics = FeedbackMetrics()
    core = FeedbackCore(settings, metrics)
    service = build_server(settings, FeedbackDeps(metrics=metrics, feedback=core))
    service.start()
    address = f"127.0.0.1:{service.port}"
    unknown = _alerts("elsewhere")[4]
    unknown.transaction.event_id = unknown.score.event_id = "no-row-here"
    with credentials.transport().channel(address) as channel:
        stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
        request = feedback_service_pb2.ReportAlertsRequest(alerts=[*_alerts("r-7"), unknown])
        # wait_for_ready: clients that tried this port before it was up share a subchannel
        # still backing off.
        list(stub.ReportAlerts(iter([request]), timeout=5, wait_for_ready=True))
    try:
        yield address, core
    finally:
        service.stop(1.0)
        core.close()


@pytest.fixture
def feedback(tmp_path: Path, credentials: Any) -> Iterator[tuple[str, FeedbackCore]]:
    with _feedback_server(tmp_path, credentials) as running:
        yield running


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _verdicts(core: FeedbackCore) -> dict[str, Verdict]:
    return {label.event_id: label.verdict for label in core.store.labels_after(0, 100)}


@pytest.mark.parametrize(
    ("event_id", "row"),
    [
        ("r-7-12", 12),
        ("run-0", 0),
        ("2026-01-01T00-3", 3),
        ("x", None),
        ("run-", None),
        ("run-1a", None),
        ("run--1", 1),
    ],
)
def test_the_row_is_the_integer_after_the_last_dash(event_id, row):
    assert row_of(event_id) == row


def test_ground_truth_reads_the_isfraud_column():
    truth = GroundTruth.from_csv(TRUTH)
    assert len(truth) == 5
    assert [truth.is_fraud(f"any-{row}") for row in range(5)] == IS_FRAUD
    assert truth.is_fraud("any-5") is None and truth.is_fraud("nodash") is None


def test_simulated_analysts_label_from_the_ground_truth(feedback):
    address, core = feedback
    analysts = SimulatedAnalysts(
        address, TOKEN, GroundTruth.from_csv(TRUTH), analysts=2, max_labels=5
    )
    stats = analysts.run()
    assert stats.labels == 5 and stats.flipped == 0
    assert (stats.fraud, stats.legit) == (2, 3)
    expected = {
        f"r-7-{row}": Verdict.FRAUD if f else Verdict.LEGIT for row, f in enumerate(IS_FRAUD)
    }
    assert _verdicts(core) == expected
    assert [lb.analyst for lb in core.store.labels_after(0, 10)] == ["alice"] * 5
    unknown = core.store.get_case("no-row-here")
    assert unknown is not None and unknown.state is CaseState.OPEN  # skipped, lease given back


def test_an_error_rate_of_one_flips_every_verdict_and_max_labels_is_exact(feedback):
    address, core = feedback
    analysts = SimulatedAnalysts(
        address, TOKEN, GroundTruth.from_csv(TRUTH), analysts=3, error_rate=1.0, max_labels=2
    )
    stats = analysts.run()
    assert stats.labels == 2 and stats.flipped == 2
    given = _verdicts(core)
    assert len(given) == 2
    for event_id, verdict in given.items():  # each the opposite of the truth
        assert (verdict is Verdict.FRAUD) != IS_FRAUD[int(event_id.rpartition("-")[2])]


def test_a_wrong_token_stops_the_simulation_with_unauthenticated(feedback):
    address, core = feedback
    analysts = SimulatedAnalysts(address, "nope", GroundTruth.from_csv(TRUTH), max_labels=1)
    with pytest.raises(grpc.RpcError) as refused:
        analysts.run()
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _verdicts(core) == {}


def test_review_simulate_command(feedback):
    address, core = feedback
    result = CliRunner().invoke(
        review,
        [
            "--simulate",
            "--truth",
            str(TRUTH),
            "--addr",
            address,
            "--delay",
            "0",
            "--max-labels",
            "3",
            "--analysts",
            "2",
        ],
        env={"FRAUDSTREAM_ANALYST_TOKEN": TOKEN},
    )
    assert result.exit_code == 0, result.output
    assert "labels: 3 acked" in result.output
    assert len(_verdicts(core)) == 3


def test_the_terminal_ui_labels_with_one_key_per_case(feedback):
    address, core = feedback
    # f on the riskiest case, l on the next, s on the third, then q on the fourth.
    result = CliRunner().invoke(
        review, ["--addr", address, "--token", TOKEN, "--analyst", "alice"], input="fxlsq"
    )
    assert result.exit_code == 0, result.output
    assert "case r-7-0" in result.output and "risk 0.970" in result.output
    assert "origin account emptied by this transfer" in result.output
    assert "C1305486145" in result.output and "TRANSFER" in result.output
    assert "recorded r-7-0 as label #1" in result.output
    assert "skipped r-7-2" in result.output
    assert "2 case(s) labeled this session" in result.output
    assert _verdicts(core) == {"r-7-0": Verdict.FRAUD, "r-7-1": Verdict.LEGIT}
    # Quitting released the lease of the case on screen.
    assert core.store.queue_counts(now=0.0) == (4, 0)


def test_the_terminal_ui_needs_a_token(feedback):
    address, _ = feedback
    missing = CliRunner().invoke(review, ["--addr", address], env={"FRAUDSTREAM_ANALYST_TOKEN": ""})
    assert missing.exit_code == 2 and "--token" in missing.output
    refused = CliRunner().invoke(review, ["--addr", address, "--token", "nope"], input="q")
    assert refused.exit_code == 1 and "refused the token" in refused.output


def test_analysts_wait_for_a_feedback_service_that_is_not_up_yet(tmp_path, credentials):
    port = _free_port()
    analysts = SimulatedAnalysts(
        f"127.0.0.1:{port}", TOKEN, GroundTruth.from_csv(TRUTH), analysts=2, max_labels=3
    )
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.append(analysts.run()), daemon=True)
    runner.start()
    time.sleep(0.5)
    assert analysts.stats.labels == 0
    with _feedback_server(tmp_path, credentials, port) as (_address, core):
        runner.join(timeout=30)
        assert not runner.is_alive()
        assert len(_verdicts(core)) == 3
    assert outcome[0].labels == 3
    assert analysts.error is None


def test_analysts_stop_at_once_while_the_service_is_down():
    analysts = SimulatedAnalysts(
        f"127.0.0.1:{_free_port()}", TOKEN, GroundTruth.from_csv(TRUTH), analysts=2
    )
    analysts.start()
    time.sleep(0.3)
    started = time.monotonic()
    analysts._finish()
    for stream in analysts._streams:
        stream.stop()
    assert analysts.wait(timeout=2)
    assert time.monotonic() - started < 2
