"""Fixtures of the stream tests: a free loopback port, and the backoff ceilings drawn."""

from __future__ import annotations

import pytest

from fraudstream.cli.ports import free_port
from fraudstream.common import stream as stream_module


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every backoff ceiling the client draws from; the draw returns the ceiling."""
    drawn: list[float] = []

    def ceiling(low: float, high: float) -> float:
        drawn.append(high)
        return high

    monkeypatch.setattr(stream_module.random, "uniform", ceiling)
    return drawn
