"""`fraudstream data simulate --pattern NAME=SHARE`: passed to the simulator, checked as usage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner, Result

from fraudstream.training.cli import data
from fraudstream.training.patterns import patterns_path
from fraudstream.training.simulate import SimulationConfig, simulate


def _simulate(out: Path, *extra: str) -> Result:
    args = ["simulate", "--rows", "20000", "--seed", "4", "--out", str(out), "--quiet", *extra]
    return CliRunner().invoke(data, args)


def test_pattern_flags_reach_the_simulator(tmp_path: Path) -> None:
    out = tmp_path / "cli.csv"
    flags = ("--pattern", "mule_fan_in=0.002", "--pattern", "structuring=0.001")
    result = _simulate(out, *flags)
    assert result.exit_code == 0, result.output
    side = pd.read_csv(patterns_path(out))
    assert side["pattern"].value_counts().to_dict() == {"mule_fan_in": 40, "structuring": 20}
    # The same file as the library call with the same pairs.
    direct = tmp_path / "direct.csv"
    patterns = (("mule_fan_in", 0.002), ("structuring", 0.001))
    simulate(SimulationConfig(rows=20_000, seed=4, patterns=patterns), direct, quiet=True)
    assert out.read_bytes() == direct.read_bytes()


def test_without_the_flag_no_side_file(tmp_path: Path) -> None:
    out = tmp_path / "plain.csv"
    assert _simulate(out).exit_code == 0
    assert not patterns_path(out).exists()


def test_bad_pattern_flags_are_usage_errors(tmp_path: Path) -> None:
    for flags in (
        ("--pattern", "mule_fan_in"),
        ("--pattern", "mule_fan_in=lots"),
        ("--pattern", "ponzi=0.1"),
        ("--pattern", "structuring=1.5"),
        ("--pattern", "structuring=0.1", "--pattern", "structuring=0.2"),
    ):
        out = tmp_path / "bad.csv"
        result = _simulate(out, *flags)
        assert result.exit_code == 2, flags
        assert not out.exists()
