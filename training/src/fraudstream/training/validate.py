"""`data validate`: schema and consistency report of a PaySim-layout CSV, read in chunks."""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudstream.model.paysim import (
    BALANCE_COLUMNS,
    PAYSIM_COLUMNS,
    PAYSIM_HEADER,
    TRANSACTION_TYPES,
)
from fraudstream.training.csvio import READ_ERRORS, read_error
from fraudstream.training.progress import stderr_progress

logger = logging.getLogger(__name__)

MAX_ERRORS = 20
_NUMERIC = ("step", "amount", *BALANCE_COLUMNS, "isFraud", "isFlaggedFraud")
_LABELS = ("isFraud", "isFlaggedFraud")
_SPARE_FIELDS = 20


@dataclass
class ValidationReport:
    """What a file holds and what is wrong with it (errors carry 1-based line numbers)."""

    path: str
    rows: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    nulls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PAYSIM_COLUMNS, 0))
    type_counts: dict[str, int] = field(default_factory=dict)
    frauds: int = 0
    flagged: int = 0
    steps: list[int] = field(default_factory=lambda: [0, 0])
    balance: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "origin_adds_up",
                "destination_adds_up",
                "origin_breaks",  # old - amount != new for the origin (finite rows)
                "destination_breaks",  # old + amount != new for the destination
                "origin_emptied",
                "destination_zero_before_after",
                "negative_balances",
            ),
            0,
        )
    )

    @property
    def ok(self) -> bool:
        """True when the file has no errors."""
        return self.error_count == 0

    def add_error(self, message: str) -> None:
        """Record an error (only the first MAX_ERRORS are kept verbatim)."""
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report."""
        rows = max(self.rows, 1)
        return {
            "path": self.path,
            "valid": self.ok,
            "rows": self.rows,
            "error_count": self.error_count,
            "errors": self.errors,
            "nulls": self.nulls,
            "type_counts": self.type_counts,
            "frauds": self.frauds,
            "fraud_rate": self.frauds / rows,
            "flagged": self.flagged,
            "steps": {"first": self.steps[0], "last": self.steps[1]},
            "balance_consistency": {
                **self.balance,
                **{f"{k}_share": v / rows for k, v in self.balance.items()},
            },
        }


def _read_header(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as source:  # type: ignore[operator]
        return str(source.readline()).rstrip("\r\n").lstrip("\ufeff")


def _check_shape(report: ValidationReport, chunk: pd.DataFrame, lines: np.ndarray) -> np.ndarray:
    """Report blank lines and rows with extra fields; returns the mask of blank lines."""
    blank = chunk.isna().all(axis=1).to_numpy()
    for line in lines[blank][:3]:
        report.add_error(f"line {line}: blank line")
    report.error_count += max(int(blank.sum()) - 3, 0)
    fields = chunk.notna().to_numpy()[:, ::-1].argmax(axis=1)
    width = np.where(blank, 0, chunk.shape[1] - fields)
    extra = width > len(PAYSIM_COLUMNS)
    for line, count in zip(lines[extra][:3], width[extra][:3], strict=False):
        report.add_error(f"line {line}: {count} fields, expected {len(PAYSIM_COLUMNS)}")
    report.error_count += max(int(extra.sum()) - 3, 0)
    return blank


def _check_chunk(report: ValidationReport, chunk: pd.DataFrame, first_line: int) -> None:
    lines = np.arange(first_line, first_line + len(chunk))
    blank = _check_shape(report, chunk, lines)
    chunk, lines = chunk[~blank], lines[~blank]
    report.rows += len(chunk)
    for column in PAYSIM_COLUMNS:
        missing = chunk[column].isna().to_numpy()
        report.nulls[column] += int(missing.sum())
        for line in lines[missing][:3]:
            report.add_error(f"line {line}: {column} is empty")
    numbers = {}
    for column in _NUMERIC:
        raw = chunk[column]
        parsed = pd.to_numeric(raw, errors="coerce")
        bad = parsed.isna().to_numpy() & raw.notna().to_numpy()
        for line, value in zip(lines[bad][:3], raw[bad][:3], strict=False):
            report.add_error(f"line {line}: {column} is not a number: {value!r}")
        report.error_count += max(int(bad.sum()) - 3, 0)
        numbers[column] = parsed.to_numpy(dtype=np.float64)
    kinds = chunk["type"].astype("string")
    unknown = (~kinds.isin(TRANSACTION_TYPES) & kinds.notna()).to_numpy()
    for line, value in zip(lines[unknown][:3], kinds[unknown][:3], strict=False):
        report.add_error(
            f"line {line}: unknown transaction type {value!r} "
            f"(known: {', '.join(TRANSACTION_TYPES)})"
        )
    report.error_count += max(int(unknown.sum()) - 3, 0)
    _check_values(report, numbers, lines)
    for kind, count in kinds[~unknown].value_counts().items():
        report.type_counts[str(kind)] = report.type_counts.get(str(kind), 0) + int(count)
    _balance_stats(report, numbers)


def _check_values(
    report: ValidationReport, numbers: dict[str, np.ndarray], lines: np.ndarray
) -> None:
    # NaN is reported as "not a number" already; +-inf parses as a float but is no amount.
    amount, step = numbers["amount"], numbers["step"]
    checks = {
        "amount must be finite and not negative": np.isinf(amount) | (amount < 0),
        "step must be a positive whole number": np.isinf(step)
        | (step < 1)
        | (np.where(np.isfinite(step), step, 1) % 1 != 0),
    }
    for column in BALANCE_COLUMNS:
        # Negative balances are valid (PaySim 2 records overdrafts); infinite ones are not.
        checks[f"{column} must be finite"] = np.isinf(numbers[column])
    for column in _LABELS:
        checks[f"{column} must be 0 or 1"] = ~np.isin(numbers[column], (0, 1)) & ~np.isnan(
            numbers[column]
        )
    for message, bad in checks.items():
        for line in lines[bad][:3]:
            report.add_error(f"line {line}: {message}")
        report.error_count += max(int(bad.sum()) - 3, 0)
    steps = numbers["step"][np.isfinite(numbers["step"])]
    if steps.size:
        report.steps[0] = (
            int(steps.min()) if report.steps[0] == 0 else min(report.steps[0], int(steps.min()))
        )
        report.steps[1] = max(report.steps[1], int(steps.max()))
    report.frauds += int(np.nansum(numbers["isFraud"] == 1))
    report.flagged += int(np.nansum(numbers["isFlaggedFraud"] == 1))


def _balance_stats(report: ValidationReport, numbers: dict[str, np.ndarray]) -> None:
    # Inconsistent balances are PaySim's recorded behaviour (emptied accounts, merchants kept
    # at 0), not errors: count them, so a reader sees how far a file is from adding up.
    amount = numbers["amount"]
    old_o, new_o = numbers["oldbalanceOrg"], numbers["newbalanceOrig"]
    old_d, new_d = numbers["oldbalanceDest"], numbers["newbalanceDest"]
    complete = np.all([np.isfinite(v) for v in numbers.values()], axis=0)
    origin_ok = np.abs(new_o + amount - old_o) < 0.01
    destination_ok = np.abs(old_d + amount - new_d) < 0.01
    report.balance["origin_adds_up"] += int(np.sum(origin_ok))
    report.balance["destination_adds_up"] += int(np.sum(destination_ok))
    report.balance["origin_breaks"] += int(np.sum(complete & ~origin_ok))
    report.balance["destination_breaks"] += int(np.sum(complete & ~destination_ok))
    report.balance["origin_emptied"] += int(np.sum((old_o > 0) & (new_o == 0)))
    report.balance["destination_zero_before_after"] += int(np.sum((old_d == 0) & (new_d == 0)))
    report.balance["negative_balances"] += int(
        np.sum((old_o < 0) | (new_o < 0) | (old_d < 0) | (new_d < 0))
    )


def _check_rows(report: ValidationReport, path: Path, chunk_rows: int, quiet: bool) -> None:
    """Check every row after the header, chunk by chunk."""
    # Blank lines are kept (as empty rows) so every reported line number is the file's own.
    # Spare columns catch rows with too many fields instead of failing the whole chunk.
    spare = [f"_extra{i}" for i in range(_SPARE_FIELDS)]
    line = 2
    try:
        reader = pd.read_csv(
            path,
            header=None,
            skiprows=1,
            names=[*PAYSIM_COLUMNS, *spare],
            dtype=str,
            chunksize=chunk_rows,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
        )
        with reader, stderr_progress(quiet) as bar:
            task = bar.add_task("validate", total=None)
            for chunk in reader:
                _check_chunk(report, chunk, line)
                line += len(chunk)
                bar.update(task, advance=len(chunk))
    except READ_ERRORS as exc:  # truncated or corrupt: what was read so far is reported too
        report.add_error(f"near line {line}: {read_error(path, exc)}")


def validate(path: Path, chunk_rows: int = 500_000, quiet: bool = False) -> ValidationReport:
    """Check header, values and types of every row; collect the report."""
    report = ValidationReport(path=str(path))
    if not path.is_file():
        report.add_error(f"{path}: no such file")
        return report
    try:
        header = _read_header(path)
    except READ_ERRORS as exc:
        report.add_error(f"line 1: {read_error(path, exc)}")
        return report
    if header != PAYSIM_HEADER:
        report.add_error(
            f"line 1: header is {header!r}, expected the PaySim header {PAYSIM_HEADER!r}"
        )
        return report
    _check_rows(report, path, chunk_rows, quiet)
    if report.rows == 0:
        report.add_error("the file has a header but no rows")
    return report
