"""`fraudstream experiment chaos`: kill -9 each process of the loaded pipeline, count the losses."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from fraudstream.cli.demo.build import Builder, Steps
from fraudstream.cli.experiment.pipeline import BROKER, PROCESSES, PipelineConfig

logger = logging.getLogger(__name__)

_F = TypeVar("_F", bound=Callable[..., Any])

FAULT_ORDER = ("feedback", "scorer", "learner", BROKER, "ingest")


def _faults(value: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    unknown = [k for k in kinds if k not in PROCESSES]
    if unknown or not kinds:
        raise click.BadParameter(f"{', '.join(unknown) or 'none'}: pick from {','.join(PROCESSES)}")
    return kinds


def prepare_data(
    steps: Steps,
    workdir: Path,
    models: Path | None,
    input_csv: Path | None,
    events: int,
    train_rows: int,
    seed: int,
) -> tuple[Path, Path]:
    """The bundle to serve and the CSV to replay: given, or built by the real commands."""
    builder = Builder(workdir, steps)
    data = workdir / "data"
    if models is None:
        train = builder.simulate(train_rows, seed, data / f"train-{train_rows}-s{seed}.csv")
        models = builder.train(
            builder.features(train, train.with_suffix(".parquet")), workdir / "models"
        )
    if input_csv is None:
        input_csv = builder.simulate(events, seed + 1, data / f"replay-{events}-s{seed + 1}.csv")
    return models, input_csv


def common_options(command: _F) -> _F:
    """Options chaos and soak share: bundle, replayed data, broker, directories."""
    options = [
        click.option(
            "--models",
            type=click.Path(path_type=Path, file_okay=False, exists=True),
            help="Serve this bundle instead of training one on simulated data.",
        ),
        click.option(
            "--input",
            "input_csv",
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            help="Replay this PaySim CSV instead of simulated rows.",
        ),
        click.option(
            "--train-rows",
            type=click.IntRange(min=10_000),
            default=100_000,
            show_default=True,
            help="Simulated rows the bundle trains on.",
        ),
        click.option(
            "--seed",
            type=int,
            default=7,
            show_default=True,
            help="Seed of the simulated data (the replayed rows use seed+1).",
        ),
        click.option(
            "--bootstrap",
            help="Reuse this running broker instead of starting one "
            "(the broker fault is then impossible); the bridges get a fresh group.",
        ),
        click.option("--analysts", type=click.IntRange(min=1), default=2, show_default=True),
        click.option(
            "--analyst-delay",
            type=click.FloatRange(min=0),
            default=0.02,
            show_default=True,
            help="Seconds each simulated analyst takes per case.",
        ),
        click.option(
            "--workdir",
            type=click.Path(path_type=Path, file_okay=False),
            default=Path("var/experiment"),
            show_default=True,
        ),
        click.option(
            "--out",
            type=click.Path(path_type=Path, file_okay=False),
            default=Path("reports"),
            show_default=True,
            help="Where reports go.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command("chaos")
@click.option(
    "--events",
    type=click.IntRange(min=1000),
    default=100_000,
    show_default=True,
    help="Transactions to replay.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=1),
    default=2500.0,
    show_default=True,
    help="Replay rate in tx/s.",
)
@click.option(
    "--faults",
    "faults",
    default=",".join(FAULT_ORDER),
    show_default=True,
    help="Processes to kill -9 and restart, in this order.",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Times the whole list of faults is repeated.",
)
@click.option(
    "--warmup",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds of undisturbed replay before the first kill.",
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=3.0,
    show_default=True,
    help="Seconds between one fault's recovery and the next kill.",
)
@common_options
def chaos(
    events: int,
    rate: float,
    faults: str,
    rounds: int,
    warmup: float,
    settle: float,
    models: Path | None,
    input_csv: Path | None,
    train_rows: int,
    seed: int,
    bootstrap: str | None,
    analysts: int,
    analyst_delay: float,
    workdir: Path,
    out: Path,
) -> None:
    """Replay --events at --rate while analysts label, kill -9 each of --faults and restart it.

    Reports events lost and duplicated on transactions.scored, alerts duplicated in the
    feedback store, acknowledged labels missing from the label log or learned twice, whether
    the learner's version ever went back, and per fault the restart-to-serving and recovery
    times; writes reports/chaos_report.json and a timeline plot.
    """
    import pandas as pd

    from fraudstream.cli.experiment.chaos_report import analyse, write
    from fraudstream.cli.experiment.chaos_run import ChaosPlan, ChaosRun

    kinds = _faults(faults) * rounds
    if bootstrap and BROKER in kinds:
        raise click.UsageError("a reused broker (--bootstrap) cannot be killed: drop 'broker'")
    console = Console(highlight=False)
    steps = Steps(console)
    began = time.monotonic()
    models, replay_csv = prepare_data(steps, workdir, models, input_csv, events, train_rows, seed)
    truth = pd.read_csv(replay_csv, usecols=["isFraud"])["isFraud"].to_numpy()
    events = min(events, len(truth))
    token = "chaos-" + uuid.uuid4().hex[:8]
    config = PipelineConfig(
        run_dir=workdir / "chaos-run",
        models=models,
        token=token,
        bootstrap=bootstrap,
        group_id=f"fraudstream-ingest-{token}" if bootstrap else None,
    )
    plan = ChaosPlan(
        replay_csv, truth, events, rate, kinds, warmup, settle, analysts, analyst_delay, seed
    )
    outcome = ChaosRun(config, plan, steps, console).execute()
    settings = {
        "events": events,
        "rate": rate,
        "faults": list(kinds),
        "warmup": warmup,
        "settle": settle,
        "analysts": analysts,
        "analyst_delay": analyst_delay,
        "seed": seed,
        "models": str(models),
        "replayed_csv": str(replay_csv),
        "reused_broker": bool(bootstrap),
    }
    report = analyse(outcome, settings)
    report["steps"] = steps.as_dict()
    report["seconds"] = round(time.monotonic() - began, 1)
    json_path, png_path = write(report, outcome["scored"], out)
    for fault in report["faults"]:
        console.print(
            f"{fault['kind']:>9}: serving {fault['restart_to_serving_s']} s after restart, "
            f"recovery {fault['recovery_s']} s, longest gap {fault['longest_scoring_gap_s']} s"
        )
    e, a, lb = report["events"], report["alerts"], report["labels"]
    console.print(
        f"events lost {e['lost']}, duplicated {e['duplicated_events']}; alerts duplicated in "
        f"the store {a['duplicated_in_store']}; labels lost {lb['lost']}; learner version went "
        f"back {len(report['learner']['version_went_back'])} times"
    )
    console.print(f"wrote {json_path} and {png_path}")
