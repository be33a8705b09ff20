"""Settings come from flags and FRAUDSTREAM_* variables, flags winning, bad values refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.common import names
from fraudstream.common.settings import parse_settings
from fraudstream.feedback.settings import FeedbackSettings
from fraudstream.scorer.settings import ScorerSettings


def test_defaults_are_the_fixed_names(monkeypatch):
    for var in ("FRAUDSTREAM_PORT", "FRAUDSTREAM_METRICS_PORT", "FRAUDSTREAM_MODELS"):
        monkeypatch.delenv(var, raising=False)
    settings = parse_settings(ScorerSettings, [], "test")
    assert (settings.port, settings.metrics_port) == (names.SCORER_PORT, names.SCORER_METRICS_PORT)
    assert settings.models == Path("models")
    assert settings.learner_addr == names.LEARNER_ADDR


def test_environment_then_flags(monkeypatch):
    monkeypatch.setenv("FRAUDSTREAM_MODELS", "/srv/bundle")
    monkeypatch.setenv("FRAUDSTREAM_PORT", "6000")
    settings = parse_settings(ScorerSettings, ["--port", "7000", "--metrics-port", "7001"], "test")
    assert settings.models == Path("/srv/bundle")
    assert (settings.port, settings.metrics_port) == (7000, 7001)


def test_analyst_tokens_are_comma_separated(monkeypatch):
    monkeypatch.setenv("FRAUDSTREAM_ANALYST_TOKENS", "alice-token, bob-token,,")
    assert parse_settings(FeedbackSettings, [], "test").analyst_tokens == [
        "alice-token",
        "bob-token",
    ]


def test_bad_value_exits_2_with_the_flag_named(capsys):
    with pytest.raises(SystemExit) as exited:
        parse_settings(ScorerSettings, ["--port", "70000"], "fraudstream serve scorer")
    assert exited.value.code == 2
    assert "--port" in capsys.readouterr().err
