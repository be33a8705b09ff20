"""`fraudstream demo` end to end on a small run: reports written, reuse, nothing left running."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from fraudstream.cli.stack import PIDS_FILE

pytestmark = pytest.mark.integration

TOKEN = "tok-demo-test-7c2"
_CLI = (sys.executable, "-m", "fraudstream.cli.main")
# Small enough for CI: 20k replayed rows (a few dozen frauds), a 50k-row training set.
SMALL = ("--rows", "20000", "--train-rows", "50000", "--free-ports", "--analyst-delay", "0")


def _demo(workdir: Path, reports: Path, *args: str, timeout: float = 400) -> str:
    result = subprocess.run(
        [*_CLI, "demo", *SMALL, *args, "--workdir", str(workdir), "--reports", str(reports)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "FRAUDSTREAM_ANALYST_TOKENS": f"ci:{TOKEN}", "COLUMNS": "160"},
    )
    assert result.returncode == 0, f"demo failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return result.stdout


def _running_under(workdir: Path) -> list[str]:
    """Processes whose command line or working directory lies in `workdir`."""
    found = []
    root = str(workdir.resolve())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(proc / "cwd")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (root in cmdline or cwd.startswith(root)):
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def _console_queue(printed: str) -> str:
    """Sign in to the console the demo printed, with the analyst token it printed; the queue."""
    found = re.search(
        r"analyst console (http://\S+/) \(sign in with the analyst token (\S+)\)", printed
    )
    assert found, printed
    url, token = found.groups()
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    page = browser.open(url + "signin", timeout=10).read().decode()
    nonce = re.search(r'name="nonce" value="([^"]+)"', page)
    assert nonce, page
    form = urllib.parse.urlencode({"nonce": nonce.group(1), "token": token}).encode()
    with browser.open(url + "signin", data=form, timeout=10) as reply:  # follows to /queue
        assert reply.url.endswith("/queue"), reply.url
        return str(reply.read().decode())


def test_a_small_demo_runs_end_to_end_then_reuses_the_build_and_stops_on_ctrl_c(tmp_path: Path):
    workdir, reports = tmp_path / "demo", tmp_path / "reports"
    out = _demo(workdir, reports)
    assert "==> train the ensemble" in out and "done in" in out
    summary = json.loads((reports / "demo_summary.json").read_text())
    assert summary["complete"] and summary["replayed"] == 20_000
    detection = summary["detection"]
    assert detection["scored"] == 20_000 and detection["unscored"] == 0
    flagged = detection["flagged"]
    assert flagged["frauds"] > 0 and flagged["recall"] is not None and flagged["recall"] > 0.5
    # The same bundle frozen, scored offline, against what was served, on the same events.
    quality = summary["frozen_vs_served"]
    assert quality["events"] == quality["frozen"]["transactions"] == 20_000
    assert quality["served"] == {k: flagged[k] for k in quality["served"]}
    assert quality["frozen"]["frauds"] == flagged["frauds"] and quality["frozen"]["recall"] > 0.5
    bundle = quality["bundle_served"]
    assert bundle["events"] > 0 and bundle["same_decision"] == bundle["events"]
    gap = quality["served_minus_frozen_points"]
    assert gap["recall"] == round((flagged["recall"] - quality["frozen"]["recall"]) * 100, 2)
    assert "same bundle, frozen" in out
    learner = summary["learner"]
    assert set(learner["judgements"]) == {"promote", "refuse", "wait"}
    assert learner["rollbacks"] >= 0 and isinstance(learner["last_judgement"], str)
    assert summary["throughput"]["tx_per_second"] > 0
    assert summary["latency_seconds"]["kafka_to_routed"]["p99"] is not None
    assert summary["analysts"]["labels"] > 0 and summary["learner"]["labels_seen"] > 0
    assert [s["step"].split()[0] for s in summary["steps"]][:4] == [
        "simulate",
        "simulate",
        "features",
        "train",
    ]
    assert _running_under(workdir) == [], "the demo left processes running"
    # Each service ran with its own token; the file holds hashes only.
    tokens = (workdir / "run" / "auth" / "tokens").read_text()
    roles = {line.split()[0]: line.split()[1] for line in tokens.splitlines()}
    assert {roles[s] for s in ("scorer", "feedback", "learner", "ingest")} == {
        "service:scorer",
        "service:feedback",
        "service:learner",
        "service:ingest",
    }
    assert roles["demo-analyst"] == "labeler" and TOKEN not in tokens
    # The bundle is signed; scorer and learner trust only the demo's key.
    assert (workdir / "models" / "manifest.sig").is_file()
    logs = workdir / "run" / "logs"
    for service in ("scorer", "learner"):
        assert "must be signed by key" in (logs / f"{service}.log").read_text(), service

    # A second run, under mutual TLS, reuses data, features and bundle; every service turns
    # SERVING over mTLS; Ctrl-C during the replay stops everything.
    process = subprocess.Popen(
        [*_CLI, "demo", *SMALL, "--rows", "400000", "--tls", "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
    )
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith("==> replay"):
            # The analyst console runs beside the pipeline, its backends over mTLS.
            queue = _console_queue("".join(lines))
            assert "demo-analyst <em>(labeler)</em>" in queue, queue[:2000]
            time.sleep(3)
            process.send_signal(signal.SIGINT)
            break
    out = "".join(lines) + process.communicate(timeout=120)[0]
    assert process.returncode == 130, out
    assert out.count("reused: built by an earlier run") == 3, out  # train CSV, features, bundle
    assert "mutual TLS" in out, out  # the credentials step names the transport
    assert (workdir / "run" / "auth" / "certs" / "ca.pem").is_file()
    assert "interrupted: every process the demo started is stopped" in out
    assert _running_under(workdir) == [], "Ctrl-C left processes running"


def test_a_demo_left_running_must_be_stopped_first(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    # What --keep-running leaves behind, with processes that have gone since.
    (run / PIDS_FILE).write_text(
        json.dumps({"services": [{"name": "scorer", "pid": 999_999_999}], "kafka": None})
    )
    refused = subprocess.run(
        [*_CLI, "demo", "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1 and "fraudstream demo --stop" in refused.stderr
    stopped = subprocess.run(
        [*_CLI, "demo", "--stop", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stopped.returncode == 0 and not (run / PIDS_FILE).exists()
    assert "nothing runs" in stopped.stdout or "stopped" in stopped.stdout


def test_a_demo_with_two_scorers_spreads_batches_and_both_get_the_models(tmp_path: Path):
    workdir, reports = tmp_path / "demo", tmp_path / "reports"
    out = _demo(workdir, reports, "--scorers", "2")
    assert "start the scorer 1/2 service" in out and "start the scorer 2/2 service" in out
    summary = json.loads((reports / "demo_summary.json").read_text())
    assert summary["complete"] and summary["detection"]["scored"] == 20_000
    # The learner pushed its snapshots to both scorers, which hold the same version.
    scorers = summary["learner"]["scorers"]
    assert len(scorers) == 2 and len(set(scorers.values())) == 1, scorers
    logs = workdir / "run" / "logs"
    assert (logs / "scorer.log").is_file() and (logs / "scorer-1.log").is_file()
    bridge = (logs / "ingest.log").read_text()
    opened = set(re.findall(r"scorer-stream: stream open to (\S+)", bridge))
    assert len(opened) == 2, bridge[-3000:]  # one stream to each scorer
    assert _running_under(workdir) == [], "the demo left processes running"
