"""The Prometheus configs and alert rules pass promtool's checks and unit tests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from fraudstream.common import names

JOBS = names.METRICS_PORTS
CONFIGS = ("prometheus.yml", "prometheus.local.yml")


def _run(*command: str, cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


def _targets(config: str) -> dict[str, str]:
    """job_name -> its one static target, read from a config in this repository's layout."""
    return dict(
        re.findall(r"- job_name: (\w+)\s+static_configs:\s+- targets: \[\"([^\"]+)\"\]", config)
    )


@pytest.mark.integration
@pytest.mark.parametrize("config", CONFIGS)
def test_promtool_check_config(promtool, deploy_dir, config):
    output = _run(promtool, "check", "config", config, cwd=deploy_dir / "prometheus")
    assert "1 rule files found" in output


@pytest.mark.integration
def test_promtool_check_rules(promtool, deploy_dir):
    rules = sorted(str(p) for p in (deploy_dir / "prometheus" / "rules").glob("*.yml"))
    assert rules
    _run(promtool, "check", "rules", *rules, cwd=deploy_dir)


@pytest.mark.integration
def test_promtool_test_rules(promtool, deploy_dir):
    tests = sorted(str(p) for p in (deploy_dir / "prometheus" / "tests").glob("*.yml"))
    assert tests
    output = _run(promtool, "test", "rules", *tests, cwd=deploy_dir)
    assert "SUCCESS" in output


def test_both_configs_scrape_the_four_metrics_ports(deploy_dir):
    compose, local = (_targets((deploy_dir / "prometheus" / c).read_text()) for c in CONFIGS)
    assert compose == {job: f"{job}:{port}" for job, port in JOBS.items()}
    assert local == {job: f"localhost:{port}" for job, port in JOBS.items()}


def test_both_configs_differ_only_in_targets_and_comments(deploy_dir):
    def body(name: str) -> list[str]:
        text = (deploy_dir / "prometheus" / name).read_text()
        text = re.sub(r"\"(?:localhost|ingest|scorer|feedback|learner):\d+\"", "TARGET", text)
        return [line for line in text.splitlines() if not line.lstrip().startswith("#")]

    assert body("prometheus.yml") == body("prometheus.local.yml")


def test_every_alert_has_a_firing_and_a_quiet_unit_test(deploy_dir):
    rules = "".join(p.read_text() for p in (deploy_dir / "prometheus" / "rules").glob("*.yml"))
    alerts = set(re.findall(r"^\s*- alert: (\w+)$", rules, re.MULTILINE))
    tests = "".join(p.read_text() for p in (deploy_dir / "prometheus" / "tests").glob("*.yml"))
    checks = re.findall(r"alertname: (\w+)\n\s+exp_alerts:( \[\])?", tests)
    firing = {name for name, empty in checks if not empty}
    quiet = {name for name, empty in checks if empty}
    assert len(alerts) >= 7
    assert alerts - firing == set(), "alerts without a firing test"
    assert alerts - quiet == set(), "alerts without a quiet test"
