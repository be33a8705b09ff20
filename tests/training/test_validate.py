"""`data validate`: a JSON report for good files, line-numbered errors and exit 1 for bad ones."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fraudstream.training.cli import data
from fraudstream.training.validate import validate

TESTDATA = Path(__file__).parents[1] / "testdata"


def test_good_file_including_newer_paysim_rows() -> None:
    # Negative balances, `CC` mules and fraud cash-outs to merchants are valid data.
    result = CliRunner().invoke(
        data, ["validate", "--input", str(TESTDATA / "paysim_sample.csv"), "--json", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid"] is True
    assert report["rows"] == 36
    assert report["frauds"] == 10
    assert set(report["type_counts"]) == {"PAYMENT", "TRANSFER", "CASH_OUT", "CASH_IN", "DEBIT"}
    assert report["balance_consistency"]["negative_balances"] == 1
    assert sum(report["nulls"].values()) == 0


def test_bad_values_have_line_numbers() -> None:
    report = validate(TESTDATA / "paysim_bad_values.csv", quiet=True)
    assert not report.ok
    text = "\n".join(report.errors)
    assert "line 3: unknown transaction type 'WIRE'" in text
    assert "line 4: amount is not a number: 'abc'" in text
    assert "line 6: amount must be finite and not negative" in text
    assert "line 7: isFraud must be 0 or 1" in text


def test_bad_header_and_missing_file_exit_non_zero(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        data, ["validate", "--input", str(TESTDATA / "paysim_bad_header.csv"), "--quiet"]
    )
    assert result.exit_code == 1
    assert "line 1: header" in result.output
    result = runner.invoke(data, ["validate", "--input", str(tmp_path / "none.csv"), "--quiet"])
    assert result.exit_code == 1


def test_blank_lines_and_extra_fields_keep_file_line_numbers() -> None:
    report = validate(TESTDATA / "paysim_bad_shape.csv", quiet=True)
    assert not report.ok
    text = "\n".join(report.errors)
    assert "line 3: blank line" in text
    assert "line 4: unknown transaction type 'WIRE'" in text
    assert "line 5: 12 fields, expected 11" in text
    assert report.rows == 3
