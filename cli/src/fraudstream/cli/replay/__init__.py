"""`fraudstream replay`: produce a PaySim CSV (or simulated data) to Kafka `transactions`."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from fraudstream.cli.replay.producer import ReplayConfig, count_rows, replay
from fraudstream.common import names
from fraudstream.common.codec import FORMATS

logger = logging.getLogger(__name__)
_LOG_EVERY_SECONDS = 5.0


def _simulate(rows: int, seed: int, out: Path) -> Path:
    from fraudstream.training.api import SimulationConfig, simulate

    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        simulate(SimulationConfig(rows=rows, seed=seed), out)
    return out


@click.command("replay")
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="PaySim CSV (plain or .gz) to replay.",
)
@click.option(
    "--rate",
    type=float,
    default=0.0,
    show_default=True,
    help="Transactions per second (0: as fast as possible).",
)
@click.option(
    "--format",
    "value_format",
    type=click.Choice(sorted(FORMATS)),
    default="protobuf",
    show_default=True,
    help="Kafka value encoding.",
)
@click.option(
    "--bootstrap",
    envvar="FRAUDSTREAM_KAFKA_BOOTSTRAP",
    default=names.KAFKA_BOOTSTRAP,
    show_default=True,
    help="Kafka bootstrap servers (FRAUDSTREAM_KAFKA_BOOTSTRAP).",
)
@click.option("--topic", default="transactions", show_default=True)
@click.option("--limit", type=int, default=None, help="Replay at most this many rows.")
@click.option("--run-id", default="", help="Event ids are <run-id>-<row> (default: file name).")
@click.option(
    "--simulate",
    "simulate_rows",
    type=int,
    default=None,
    help="Simulate this many PaySim rows first (written to --simulate-out) and replay them.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed for --simulate.")
@click.option(
    "--simulate-out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where --simulate writes its CSV (default data/simulated-<rows>-<seed>.csv).",
)
def replay_command(
    input_path: Path | None,
    rate: float,
    value_format: str,
    bootstrap: str,
    topic: str,
    limit: int | None,
    run_id: str,
    simulate_rows: int | None,
    seed: int,
    simulate_out: Path | None,
) -> None:
    """Produce transactions to Kafka, keyed by name_orig, each with an event id and event time."""
    if (input_path is None) == (simulate_rows is None):
        raise click.UsageError("give exactly one of --input F.csv or --simulate ROWS")
    if simulate_rows is not None:
        target = simulate_out or Path("data") / f"simulated-{simulate_rows}-{seed}.csv"
        input_path = _simulate(simulate_rows, seed, target)
        click.echo(f"replaying simulated data from {input_path}", err=True)
    assert input_path is not None
    if not input_path.exists():
        raise click.BadParameter(f"{input_path} does not exist", param_hint="--input")
    total = count_rows(input_path)
    if limit is not None:
        total = min(total, limit) if total is not None else limit
    config = ReplayConfig(
        input=input_path,
        bootstrap=bootstrap,
        rate=rate,
        content_type=FORMATS[value_format],
        run_id=run_id,
        limit=limit,
        topic=topic,
    )
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("[cyan]{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    started = time.monotonic()
    last_line = started
    done = 0

    with progress:
        task = progress.add_task("replay", total=total, rate="")

        def advance(rows: int) -> None:
            nonlocal done, last_line
            done += rows
            now = time.monotonic()
            achieved = done / max(now - started, 1e-9)
            progress.update(task, advance=rows, rate=f"{achieved:,.0f} tx/s")
            if not console.is_terminal and now - last_line >= _LOG_EVERY_SECONDS:
                eta = f", ETA {(total - done) / achieved:.0f}s" if total and achieved else ""
                click.echo(f"replay: {done:,} rows, {achieved:,.0f} tx/s{eta}", err=True)
                last_line = now

        summary = replay(config, on_progress=advance)
    failures = f", {summary.failed} failed" if summary.failed else ""
    click.echo(
        f"replayed {summary.rows:,} transactions to {topic} in {summary.seconds:.1f}s "
        f"({summary.rate:,.0f} tx/s){failures}",
        err=True,
    )
    if summary.failed:
        raise SystemExit(1)
