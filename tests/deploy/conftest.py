"""Fixtures of the deploy tests: the deploy/ directory and the external tools they run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _tool(name: str, install: str) -> str:
    """Path of a real tool CI installs; a missing one fails the test instead of skipping it."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (.ci/run installs it): {install}")
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
