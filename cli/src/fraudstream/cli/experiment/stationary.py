"""`fraudstream experiment stationary`: with no drift, does online learning cost quality?"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from fraudstream.cli.demo.build import Builder, Steps

logger = logging.getLogger(__name__)

# Like the demo: the bundle trains on at least this many rows, so it serves a sensible model.
_MIN_TRAIN_ROWS = 200_000


def _error_rates(_ctx: click.Context, _param: click.Parameter, text: str) -> list[float]:
    try:
        rates = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise click.BadParameter(f"not a comma-separated list of numbers: {text!r}") from None
    if not rates or any(not 0 <= rate < 0.5 for rate in rates):
        raise click.BadParameter("give one or more rates in [0, 0.5), e.g. 0.01,0.03,0.10")
    return rates


def _points(value: float | None) -> str:
    return "none (no alert or no fraud)" if value is None else f"{value:+.2f} pt"


def _one_run(
    steps: Steps,
    console: Console,
    workdir: Path,
    models: Path,
    replay_csv: Path,
    rows: int,
    error_rate: float,
    seed: int,
    analysts: int,
    analyst_delay: float,
    rate: float,
) -> dict[str, Any]:
    """The demo's live run (Kafka, the four services, replay, simulated analysts) on fresh
    state; its summary compares what was served with the same bundle frozen."""
    import pandas as pd

    from fraudstream.cli.analysts import GroundTruth
    from fraudstream.cli.demo.config import LiveConfig
    from fraudstream.cli.demo.run import LiveRun

    column = pd.read_csv(replay_csv, usecols=["isFraud"], nrows=rows)["isFraud"].to_numpy()
    config = LiveConfig(
        workdir=workdir / f"e{error_rate:g}-s{seed}",
        models=models,
        replay_csv=replay_csv,
        rows=len(column),
        rate=rate,
        analysts=analysts,
        analyst_delay=analyst_delay,
        error_rate=error_rate,
        seed=seed,
        free_ports=True,
        keep_running=False,
    )
    return LiveRun(config, steps, console).execute(GroundTruth(column), column)


@click.command("stationary")
@click.option("--rows", type=click.IntRange(min=1000), default=200_000, show_default=True)
@click.option(
    "--train-rows",
    type=click.IntRange(min=1000),
    default=None,
    help=f"Simulated rows the bundle trains on (default: --rows, at least {_MIN_TRAIN_ROWS:,}).",
)
@click.option(
    "--error-rates",
    callback=_error_rates,
    default="0.01,0.03,0.10",
    show_default=True,
    help="Shares of wrong analyst verdicts, one run per rate and seed.",
)
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option(
    "--seed",
    type=int,
    default=7,
    show_default=True,
    help="Seed of the training data; the replays use seed+1 .. seed+SEEDS.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Replay rate in tx/s (0: as fast as the pipeline takes them).",
)
@click.option("--analysts", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--analyst-delay", type=click.FloatRange(min=0), default=0.02, show_default=True)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/stationary"),
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
)
def stationary(
    rows: int,
    train_rows: int | None,
    error_rates: list[float],
    seeds: int,
    seed: int,
    rate: float,
    analysts: int,
    analyst_delay: float,
    workdir: Path,
    out: Path,
) -> None:
    """No drift: the online loop against the same bundle frozen, on the same traffic.

    For each wrong-verdict rate and seed, replays fresh simulated traffic (same
    distribution as the training data) through the full loop (scorer, learner,
    feedback, simulated analysts) and scores the same events offline with the
    bundle, never updated, with the scorer's engine. Writes
    stationary_experiment.json and .png: alert precision and recall of both, mean
    and worst seed, and the verdict against the targets.
    """
    from fraudstream.cli.experiment.stationary_report import run_record, summarise, write

    console = Console(highlight=False)
    steps = Steps(console)
    builder = Builder(workdir, steps)
    data = workdir / "data"
    train_rows = train_rows or max(rows, _MIN_TRAIN_ROWS)
    train_csv = builder.simulate(train_rows, seed, data / f"train-{train_rows}-s{seed}.csv")
    models = builder.train(
        builder.features(train_csv, data / f"train-{train_rows}-s{seed}.parquet"),
        workdir / "models",
    )
    runs: list[dict[str, Any]] = []
    total, began = len(error_rates) * seeds, time.monotonic()
    for replay_seed in range(seed + 1, seed + 1 + seeds):
        replay_csv = builder.simulate(rows, replay_seed, data / f"replay-{rows}-s{replay_seed}.csv")
        for error_rate in error_rates:
            console.print(
                f"[bold]run {len(runs) + 1}/{total}[/]: {error_rate:.0%} wrong verdicts, "
                f"replay seed {replay_seed}"
            )
            summary = _one_run(
                steps,
                console,
                workdir,
                models,
                replay_csv,
                rows,
                error_rate,
                replay_seed,
                analysts,
                analyst_delay,
                rate,
            )
            record = run_record(error_rate, replay_seed, summary)
            runs.append(record)
            console.print(
                f"  frozen P {record['frozen']['precision']} R {record['frozen']['recall']} | "
                f"online P {record['online']['precision']} R {record['online']['recall']} | "
                f"{record['promotions']} promotions, {record['labels']:,} labels "
                f"({record['flipped']} wrong) | {time.monotonic() - began:,.0f} s so far"
            )
    result = summarise(runs)
    result["settings"] = {
        "rows": rows,
        "train_rows": train_rows,
        "train_seed": seed,
        "replay_seeds": list(range(seed + 1, seed + 1 + seeds)),
        "error_rates": error_rates,
        "rate": rate,
        "analysts": analysts,
        "analyst_delay": analyst_delay,
    }
    result["steps"] = steps.as_dict()
    json_path, png_path = write(result, out)
    for group in result["by_error_rate"]:
        console.print(
            f"{group['error_rate']:.0%} wrong verdicts: worst online - frozen precision "
            f"{_points(group['worst']['precision']['points'])}, recall "
            f"{_points(group['worst']['recall']['points'])} -> {group['verdict']}"
        )
    console.print(f"wrote {json_path} and {png_path}")
