"""What every section benchmarks with: progress lines, the model bundle, simulated transactions."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import pandas as pd

from fraudstream.cli.replay.transactions import transactions_of
from fraudstream.model.bundle import BundleError, read_manifest
from fraudstream.training.api import SimulationConfig, read_paysim_chunks, simulate
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

# Rows of simulated data behind a bundle the bench trains for itself (about 100 frauds).
BUNDLE_ROWS = 100_000
BUNDLE_SEED = 7
# Workload rows come from another seed, so the scored events are not the training rows.
WORKLOAD_SEED = 23
_STARTED = time.monotonic()


def say(message: str) -> None:
    """One progress line on stderr, stamped with the seconds since the bench started."""
    click.echo(f"[bench {time.monotonic() - _STARTED:6.1f}s] {message}", err=True)


def fraudstream_command(*args: str, timeout: float = 3600.0) -> None:
    """Run `fraudstream ARGS` as a child process; ClickException with its stderr tail on failure."""
    command = [sys.executable, "-m", "fraudstream.cli.main", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-20:])
        raise click.ClickException(f"`fraudstream {' '.join(args)}` failed:\n{tail}")


def has_bundle(directory: Path) -> bool:
    """True when `directory` holds a readable manifest (artifacts are verified when loaded)."""
    try:
        read_manifest(directory)
    except BundleError:
        return False
    return True


def build_bundle(workdir: Path, rows: int = BUNDLE_ROWS) -> Path:
    """Train a bundle from simulated data in `<workdir>/bundle-<rows>` (reused when present)."""
    base = workdir / f"bundle-{rows}"
    models = base / "models"
    if has_bundle(models):
        say(f"reusing the bundle in {models}")
        return models
    base.mkdir(parents=True, exist_ok=True)
    csv, parquet = base / "paysim.csv", base / "features.parquet"
    say(f"no --models given: training a bundle on {rows:,} simulated rows in {base}")
    began = time.monotonic()
    fraudstream_command(
        "data", "simulate", "--rows", str(rows), "--seed", str(BUNDLE_SEED), "--out", str(csv)
    )
    fraudstream_command("data", "features", "--input", str(csv), "--output", str(parquet))
    fraudstream_command("train", "all", "--input", str(parquet), "--models", str(models))
    say(f"bundle trained in {time.monotonic() - began:.1f}s")
    return models


@dataclass(frozen=True)
class Workload:
    """Simulated transactions, as the CSV they came from and as fraudstream.v1 messages."""

    csv: Path
    frame: pd.DataFrame
    transactions: list[Transaction]


def load_workload(workdir: Path, rows: int, messages: int, seed: int = WORKLOAD_SEED) -> Workload:
    """A CSV of `rows` simulated transactions (written once) and its first `messages` as protos."""
    csv = workdir / f"workload-{rows}-{seed}.csv"
    if not csv.exists():
        say(f"simulating {rows:,} workload transactions into {csv}")
        partial = csv.with_suffix(".partial")
        simulate(SimulationConfig(rows=rows, seed=seed), partial, quiet=True)
        partial.replace(csv)
    frame = next(read_paysim_chunks(csv, chunk_rows=messages))
    transactions = list(transactions_of(frame, "bench", 0))
    return Workload(csv=csv, frame=frame, transactions=transactions)
