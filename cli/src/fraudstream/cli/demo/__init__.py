"""`fraudstream demo`: the whole pipeline end to end on one machine, then a summary and reports."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from types import FrameType

import click
from rich.console import Console

from fraudstream.cli.demo.build import Builder, BuildError, SigningKey, Steps
from fraudstream.cli.kafka.admin import TopicError
from fraudstream.cli.kafka.broker import BrokerError
from fraudstream.cli.kafka.jars import KafkaSetupError
from fraudstream.cli.stack import PIDS_FILE, StackError, stop_detached

logger = logging.getLogger(__name__)

DEFAULT_ROWS = 1_000_000
# The bundle trains on at least this many simulated rows (a few hundred frauds),
# so a small demo still serves a sensible model.
MIN_TRAIN_ROWS = 200_000


def _run(
    console: Console,
    steps: Steps,
    *,
    workdir: Path,
    rows: int,
    input_csv: Path | None,
    train_rows: int,
    seed: int,
    rate: float,
    analysts: int,
    analyst_delay: float,
    error_rate: float,
    reports: Path,
    free_ports: bool,
    keep_running: bool,
    tls: bool,
    scorers: int = 1,
    account_features: str = "off",
) -> None:
    from fraudstream.cli.analysts import GroundTruth
    from fraudstream.cli.demo.config import LiveConfig
    from fraudstream.cli.demo.run import LiveRun
    from fraudstream.cli.demo.summary import print_summary, write_summary

    builder = Builder(workdir, steps)
    data = workdir / "data"
    if input_csv is None:
        train_csv = builder.simulate(train_rows, seed, data / f"train-{train_rows}-s{seed}.csv")
        replay_csv = builder.simulate(rows, seed + 1, data / f"replay-{rows}-s{seed + 1}.csv")
    else:
        train_csv = replay_csv = input_csv
    accounts = account_features != "off"
    suffix = "-accounts" if accounts else ""  # a bundle of each schema, each reused
    name = train_csv.name.split(".")[0] + suffix
    parquet = builder.features(train_csv, data / f"{name}.parquet", accounts)
    signing = SigningKey.in_directory(workdir / "signing")
    models = builder.train(parquet, workdir / f"models{suffix}", signing, accounts)
    with steps.step(f"read the ground truth of {replay_csv.name} for the simulated analysts") as t:
        import pandas as pd

        column = pd.read_csv(replay_csv, usecols=["isFraud"])["isFraud"].to_numpy()
        truth = GroundTruth(column)
        rows = min(rows, len(column))
        t.note = f"{rows:,} rows to replay, {int(column[:rows].sum()):,} frauds among them"
    config = LiveConfig(
        workdir=workdir,
        models=models,
        replay_csv=replay_csv,
        rows=rows,
        rate=rate,
        analysts=analysts,
        analyst_delay=analyst_delay,
        error_rate=error_rate,
        seed=seed,
        free_ports=free_ports,
        keep_running=keep_running,
        tls=tls,
        signing=signing,
        scorers=scorers,
        account_features=account_features,
    )
    live = LiveRun(config, steps, console)
    summary = live.execute(truth, column[:rows])
    summary["in_sample"] = input_csv is not None
    summary["steps"] = steps.as_dict()
    path = write_summary(summary, reports)
    print_summary(console, summary)
    console.print(f"summary written to {path}")
    if input_csv is not None:
        console.print("[dim]note: with --input the replayed rows are also the training data[/]")
    if live.pids_file is not None:
        console.print(live.how_to_use(workdir))


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same clean stop as Ctrl-C


@click.command("demo")
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=DEFAULT_ROWS,
    show_default=True,
    help="Transactions to replay (simulated unless --input is given).",
)
@click.option(
    "--input",
    "input_csv",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A PaySim CSV (e.g. Kaggle's) to train on and replay instead of simulated data.",
)
@click.option(
    "--train-rows",
    type=click.IntRange(min=1000),
    default=None,
    help=f"Simulated rows to train on (default: --rows, at least {MIN_TRAIN_ROWS:,}).",
)
@click.option(
    "--seed",
    type=int,
    default=7,
    show_default=True,
    help="Seed of the simulated training data; the replayed data uses seed+1.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Replay rate in tx/s (0: as fast as the pipeline takes them).",
)
@click.option(
    "--analysts",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Simulated analysts labeling alerts from ground truth.",
)
@click.option(
    "--analyst-delay",
    type=click.FloatRange(min=0),
    default=0.02,
    show_default=True,
    help="Seconds each simulated analyst takes per case.",
)
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Share of simulated verdicts that are wrong.",
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/demo"),
    show_default=True,
    help="Data, models, broker, service state and logs of the demo.",
)
@click.option(
    "--reports",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
    help="Where demo_summary.json goes.",
)
@click.option(
    "--free-ports",
    is_flag=True,
    help="Let the OS pick every port instead of the fixed ones (9092, 50051-50054, 9101-9104).",
)
@click.option(
    "--keep-running",
    is_flag=True,
    help="Leave Kafka and the services up after the summary (stop: fraudstream demo --stop).",
)
@click.option(
    "--tls",
    is_flag=True,
    help="Mutual TLS between every process, with certificates from a fresh local CA "
    "(`fraudstream certs`) under the run directory; default: plaintext on loopback.",
)
@click.option(
    "--scorers",
    type=click.IntRange(1, 9),
    default=1,
    show_default=True,
    help="Scorer processes (the first on 50051, more on 50061, 50062, ...); the bridge "
    "spreads batches over them and the learner pushes models to each.",
)
@click.option(
    "--flink",
    is_flag=True,
    help="Bundle with account features, from the Flink job's transactions.enriched.",
)
@click.option(
    "--accounts",
    is_flag=True,
    help="Bundle with account features, from the bridge's embedded state.",
)
@click.option(
    "--stop",
    "stop_only",
    is_flag=True,
    help="Stop what an earlier `fraudstream demo --keep-running` left running, and exit.",
)
def demo(
    rows: int,
    input_csv: Path | None,
    train_rows: int | None,
    seed: int,
    rate: float,
    analysts: int,
    analyst_delay: float,
    error_rate: float,
    workdir: Path,
    reports: Path,
    free_ports: bool,
    keep_running: bool,
    tls: bool,
    scorers: int,
    flink: bool,
    accounts: bool,
    stop_only: bool,
) -> None:
    """Run the whole pipeline on this machine: data, training, Kafka, the four services, replay.

    Simulated analysts label the alerts while the learner updates the scorer;
    a live view follows the run, then a summary is printed and written to
    reports/demo_summary.json. Ctrl-C stops every process the demo started.
    Every call is authenticated: each process gets its own token (and with --tls
    its own certificate) from the run directory's tokens file.
    Outputs of earlier runs (data, features, models) are reused when their
    inputs are unchanged.
    """
    console = Console(highlight=False)
    run_dir = workdir / "run"
    if stop_only:
        from fraudstream.cli.demo.flink import stop_flink_job

        flink_job = stop_flink_job(run_dir)  # first: it reads from the broker stopped below
        stopped = ([flink_job] if flink_job else []) + stop_detached(run_dir)
        click.echo(f"stopped: {', '.join(stopped)}" if stopped else f"nothing runs from {run_dir}")
        return
    if (run_dir / PIDS_FILE).is_file():
        raise click.ClickException(
            f"a demo left running from {run_dir} (its pids: {run_dir / PIDS_FILE}); "
            f"stop it first: fraudstream demo --stop --workdir {workdir}"
        )
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl-C must stop the demo even when started where SIGINT is ignored (a background job).
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    began = time.monotonic()
    steps = Steps(console)
    try:
        _run(
            console,
            steps,
            workdir=workdir,
            rows=rows,
            input_csv=input_csv,
            train_rows=train_rows or max(rows, MIN_TRAIN_ROWS),
            seed=seed,
            rate=rate,
            analysts=analysts,
            analyst_delay=analyst_delay,
            error_rate=error_rate,
            reports=reports,
            free_ports=free_ports,
            keep_running=keep_running,
            tls=tls,
            scorers=scorers,
            account_features="flink" if flink else "embedded" if accounts else "off",
        )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: every process the demo started is stopped[/]")
        raise SystemExit(130) from None
    except (BuildError, BrokerError, KafkaSetupError, TopicError, StackError) as exc:
        raise click.ClickException(
            f"{exc}\n(every process the demo started is stopped; logs in {run_dir / 'logs'})"
        ) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    console.print(f"demo finished in {time.monotonic() - began:.0f} s")
