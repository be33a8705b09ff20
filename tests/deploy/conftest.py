"""Fixtures of the deploy tests: the deploy/ directory, the external tools, a real Prometheus."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from .chart import CHART, DEPLOY, NAMESPACE, RELEASE, Manifests, run_helm


def _tool(name: str, install: str) -> str:
    """Path of a real tool CI installs; a missing one fails the test instead of skipping it."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (make deps installs it): {install}")
    return found


@pytest.fixture(scope="session")
def deploy_dir() -> Path:
    """The repository's deploy/ directory."""
    return DEPLOY


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool (Debian's prometheus package)."""
    return _tool("promtool", "apt-get install prometheus")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Path of the prometheus server (Debian's prometheus package)."""
    return _tool("prometheus", "apt-get install prometheus")


@dataclass
class RunningPrometheus:
    """A Prometheus server on loopback, queried over its HTTP API."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>?<params>; returns the `data` of a successful answer."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as reply:
            answer = json.load(reply)
        assert answer["status"] == "success", answer
        return answer["data"]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_ready(prometheus: RunningPrometheus, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if prometheus.process.poll() is not None:
            raise AssertionError(f"prometheus exited early:\n{prometheus.log()}")
        try:
            with urllib.request.urlopen(f"{prometheus.url}/-/ready", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"prometheus not ready within {timeout}s:\n{prometheus.log()}")


@pytest.fixture
def start_prometheus(
    prometheus_binary: str, free_ports: Callable[[int], list[int]], tmp_path: Path
) -> Iterator[Callable[[dict[str, str], float], RunningPrometheus]]:
    """Start the real prometheus with the repository's rules, scraping `{job: host:port}`."""
    started: list[RunningPrometheus] = []

    def start(targets: dict[str, str], scrape_seconds: float = 1.0) -> RunningPrometheus:
        (port,) = free_ports(1)
        config = tmp_path / "prometheus.yml"
        rules = DEPLOY / "prometheus" / "rules" / "*.yml"
        lines = [
            "global:",
            f"  scrape_interval: {scrape_seconds}s",
            f"  scrape_timeout: {scrape_seconds}s",
            f"  evaluation_interval: {scrape_seconds}s",
            f"rule_files: ['{rules}']",
            "scrape_configs:",
        ]
        for job, target in targets.items():
            lines += [f"  - job_name: {job}", f"    static_configs: [{{targets: ['{target}']}}]"]
        config.write_text("\n".join(lines) + "\n")
        log_path = tmp_path / "prometheus.log"
        process = subprocess.Popen(
            [
                prometheus_binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        prometheus = RunningPrometheus(f"http://127.0.0.1:{port}", process, log_path)
        started.append(prometheus)
        _wait_ready(prometheus, timeout=30)
        return prometheus

    yield start
    for prometheus in started:
        prometheus.process.terminate()
        try:
            prometheus.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prometheus.process.kill()
            prometheus.process.wait(timeout=10)


# --- the Helm chart (tests/deploy/chart.py) ---


@pytest.fixture(scope="module")
def helm() -> str:
    found = shutil.which("helm")
    if found is None:
        pytest.skip("helm is not installed (CI installs it with tools/install-helm.sh)")
    return found


@pytest.fixture(scope="module")
def render(helm: str) -> Callable[..., Manifests]:
    """`helm template` with `--set` pairs; the manifests it prints, parsed."""

    def run(*values: str) -> Manifests:
        sets = [arg for value in values for arg in ("--set", value)]
        result = run_helm(helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *sets)
        assert result.returncode == 0, result.stderr
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    return run


@pytest.fixture(scope="module")
def manifests(render: Callable[..., Manifests]) -> Manifests:
    return render()
