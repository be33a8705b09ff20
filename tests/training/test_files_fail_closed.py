"""Data files fail closed: impossible values are errors, failed writes keep the old output,
truncated or corrupt input gives one line naming the file."""

from __future__ import annotations

import csv
import gzip
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fraudstream.training.cli import data, train
from fraudstream.training.csvio import replaced_on_success
from fraudstream.training.validate import validate

TESTDATA = Path(__file__).parents[1] / "testdata"
SAMPLE = TESTDATA / "paysim_sample.csv"
# The original simulator's output (the same place tests/training/test_fidelity.py reads it).
REFERENCE_DIR = Path(
    os.environ.get(
        "FRAUDSTREAM_PAYSIM_REFERENCE",
        Path(__file__).resolve().parents[2].parent / "shared" / "paysim-reference",
    )
)
REFERENCE = sorted(REFERENCE_DIR.glob("*.csv.gz"))


def _with_values(tmp_path: Path, changes: dict[int, dict[str, str]]) -> Path:
    """The sample with fields replaced: {data row index: {column: text}}."""
    with SAMPLE.open(newline="") as source:
        rows = list(csv.DictReader(source))
    for index, fields in changes.items():
        rows[index].update(fields)
    path = tmp_path / "changed.csv"
    with path.open("w", newline="") as sink:
        writer = csv.DictWriter(sink, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _one_line_error(result: Result, path: Path) -> str:
    """The command failed with one line naming `path`, not a traceback or a bare 'Aborted!'."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], result.output
    assert "Aborted" not in result.output and "Traceback" not in result.output
    return lines[0]


def test_infinite_values_are_errors(tmp_path: Path) -> None:
    path = _with_values(
        tmp_path,
        {
            0: {"amount": "inf"},
            1: {"amount": "-inf"},
            2: {"oldbalanceOrg": "inf"},
            3: {"newbalanceDest": "-Infinity"},
            4: {"step": "inf"},
        },
    )
    report = validate(path, quiet=True)
    assert not report.ok
    text = "\n".join(report.errors)
    assert "line 2: amount must be finite and not negative" in text
    assert "line 3: amount must be finite and not negative" in text
    assert "line 4: oldbalanceOrg must be finite" in text
    assert "line 5: newbalanceDest must be finite" in text
    assert "line 6: step must be a positive whole number" in text
    assert report.error_count == 5


def test_balances_that_do_not_add_up_are_a_counted_finding_not_an_error() -> None:
    breaks = {"origin": 0, "destination": 0}
    with SAMPLE.open(newline="") as source:
        for row in csv.DictReader(source):
            amount = float(row["amount"])
            old_o, new_o = float(row["oldbalanceOrg"]), float(row["newbalanceOrig"])
            old_d, new_d = float(row["oldbalanceDest"]), float(row["newbalanceDest"])
            breaks["origin"] += abs(old_o - amount - new_o) >= 0.01
            breaks["destination"] += abs(old_d + amount - new_d) >= 0.01
    assert breaks["origin"] > 0 and breaks["destination"] > 0  # the sample has both
    result = CliRunner().invoke(data, ["validate", "--input", str(SAMPLE), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (
        f"balances: {breaks['origin']} rows where oldbalanceOrg - amount != newbalanceOrig,"
        f" {breaks['destination']} where oldbalanceDest + amount != newbalanceDest"
    ) in result.output
    report = validate(SAMPLE, quiet=True).to_dict()
    assert report["valid"] is True
    consistency = report["balance_consistency"]
    assert (consistency["origin_breaks"], consistency["destination_breaks"]) == (
        breaks["origin"],
        breaks["destination"],
    )


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.skipif(not REFERENCE, reason=f"no PaySim reference files in {REFERENCE_DIR}")
@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.name)
def test_original_paysim_output_still_validates_clean(path: Path) -> None:
    report = validate(path, quiet=True)
    assert report.ok, report.errors
    consistency = report.to_dict()["balance_consistency"]
    assert consistency["origin_breaks"] > 0  # PaySim's known inconsistencies: reported only


def test_a_failing_features_run_keeps_the_previous_output(tmp_path: Path) -> None:
    output = tmp_path / "features.parquet"
    runner = CliRunner()
    good = runner.invoke(
        data, ["features", "--input", str(SAMPLE), "--output", str(output), "--quiet"]
    )
    assert good.exit_code == 0, good.output
    before = output.read_bytes()
    broken = _with_values(tmp_path, {30: {"amount": "abc"}})
    failed = runner.invoke(
        data, ["features", "--input", str(broken), "--output", str(output), "--quiet"]
    )
    assert failed.exit_code == 1
    assert output.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["changed.csv", "features.parquet"]


def _truncated_gz(tmp_path: Path) -> Path:
    whole = gzip.compress(SAMPLE.read_bytes() * 20)
    path = tmp_path / "truncated.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _corrupt_gz(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.csv.gz"
    path.write_bytes(b"this is not gzip at all\n" * 10)
    return path


@pytest.mark.parametrize("broken", [_truncated_gz, _corrupt_gz])
def test_truncated_or_corrupt_input_gives_one_line_naming_the_file(tmp_path: Path, broken) -> None:
    path = broken(tmp_path)
    runner = CliRunner()
    output = tmp_path / "features.parquet"
    line = _one_line_error(
        runner.invoke(data, ["features", "--input", str(path), "--output", str(output), "--quiet"]),
        path,
    )
    assert "cannot be read" in line
    assert not output.exists()
    line = _one_line_error(
        runner.invoke(train, ["--input", str(path), "--models", str(tmp_path / "m"), "--quiet"]),
        path,
    )
    assert "cannot be read" in line
    checked = runner.invoke(data, ["validate", "--input", str(path), "--json", "--quiet"])
    assert checked.exit_code == 1 and isinstance(checked.exception, SystemExit)
    report = json.loads(checked.stdout)
    assert any(str(path) in error and "cannot be read" in error for error in report["errors"])


def test_a_writer_that_fails_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    output = tmp_path / "simulated.csv"
    output.write_text("the previous, complete file\n")
    with pytest.raises(RuntimeError), replaced_on_success(output) as partial:
        partial.write_text("half of a new fi")
        raise RuntimeError("disk full, say")
    assert output.read_text() == "the previous, complete file\n"
    assert [p.name for p in tmp_path.iterdir()] == ["simulated.csv"]
    with replaced_on_success(output) as partial:
        partial.write_text("new\n")
    assert output.read_text() == "new\n" and len(list(tmp_path.iterdir())) == 1
