"""`fraudstream experiment drift`: does the online loop learn a fraud pattern the bundle misses?"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from pathlib import Path

import click
import pandas as pd
from rich.console import Console

from fraudstream.cli.demo.build import Builder, Steps
from fraudstream.cli.demo.credentials import DemoCredentials
from fraudstream.cli.demo.watch import scrape
from fraudstream.cli.experiment.loop import label_events, run_loop
from fraudstream.cli.experiment.stationary import stationary
from fraudstream.cli.stack import Stack

logger = logging.getLogger(__name__)

_TOKEN = "experiment-" + uuid.uuid4().hex[:8]


def _split(csv: Path, drift_step: int, context_steps: int, workdir: Path) -> tuple[Path, Path]:
    train = workdir / f"{csv.stem}-pre.csv"
    replayed = workdir / f"{csv.stem}-from-{drift_step - context_steps}.csv"
    source = csv.stat().st_mtime_ns
    if all(p.exists() and p.stat().st_mtime_ns >= source for p in (train, replayed)):
        return train, replayed  # unchanged: keep the files so features and bundle are reused
    frame = pd.read_csv(csv)
    frame[frame["step"] < drift_step].to_csv(train, index=False)
    frame[frame["step"] >= drift_step - context_steps].to_csv(replayed, index=False)
    return train, replayed


@click.group("experiment")
def experiment() -> None:
    """Experiments with the running pipeline."""


experiment.add_command(stationary)


@experiment.command("drift")
@click.option("--rows", type=click.IntRange(min=10_000), default=300_000, show_default=True)
@click.option("--drift-step", type=click.IntRange(2, 742), default=400, show_default=True)
@click.option("--seed", type=int, default=23, show_default=True)
@click.option(
    "--context-steps",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Pre-drift steps replayed before the new pattern starts.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=1),
    default=150.0,
    show_default=True,
    help="Replay rate in tx/s.",
)
@click.option(
    "--report-share",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="Share of missed frauds customers report back (chargebacks).",
)
@click.option("--analysts", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--analyst-delay", type=click.FloatRange(min=0), default=0.05, show_default=True)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/experiment"),
    show_default=True,
)
@click.option(
    "--reports",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
)
def drift(
    rows: int,
    drift_step: int,
    seed: int,
    context_steps: int,
    rate: float,
    report_share: float,
    analysts: int,
    analyst_delay: float,
    workdir: Path,
    reports: Path,
) -> None:
    """Structuring fraud appears at --drift-step; the bundle never saw it.

    Trains on pre-drift data, replays from just before the drift through the
    full loop (simulated analysts label alerts and customer-reported frauds),
    then compares recall on the new pattern of the online system with the same
    bundle frozen, and writes reports/experiment_drift.json and .png.
    """
    from fraudstream.cli.experiment.report import analyse, frozen_flags, write

    console = Console(highlight=False)
    steps = Steps(console)
    builder = Builder(workdir, steps)
    csv = builder.simulate(
        rows, seed, workdir / f"drift-{rows}-s{seed}-d{drift_step}.csv", drift_step
    )
    with steps.step(
        f"split at step {drift_step}: pre-drift training data, replay from step "
        f"{drift_step - context_steps}"
    ):
        train_csv, replay_csv = _split(csv, drift_step, context_steps, workdir)
    models = builder.train(
        builder.features(train_csv, train_csv.with_suffix(".parquet")), workdir / "models"
    )
    frame = pd.read_csv(replay_csv)
    run_id = "drift" + time.strftime("%H%M%S")
    run_dir = workdir / "run"
    # A learner state or label log left by an earlier run would be resumed: start empty.
    shutil.rmtree(run_dir, ignore_errors=True)
    with Stack(run_dir) as stack:
        with steps.step("start Kafka and the four services"):
            bootstrap = stack.start_kafka()
            env = {
                "FRAUDSTREAM_KAFKA_BOOTSTRAP": bootstrap,
                "FRAUDSTREAM_DATA_DIR": str((run_dir / "var").resolve()),
                "FRAUDSTREAM_MODELS": str(models.resolve()),
                "FRAUDSTREAM_GRACE_SECONDS": "3",
            }
            creds = DemoCredentials.create(run_dir / "auth", tls=False, analyst_token=_TOKEN)
            # The experiment reports chargebacks to feedback as the bridge does (its token).
            feedback = stack.start_service(
                "feedback",
                env={**env, **creds.env("feedback")},
                transport=creds.transport("ingest"),
            )
            learner = stack.start_service(
                "learner",
                "--feedback-addr",
                feedback.address,
                env={**env, **creds.env("learner")},
                transport=creds.transport(),
            )
            scorer = stack.start_service(
                "scorer", "--learner-addr", learner.address, env={**env, **creds.env("scorer")}
            )
            ingest = stack.start_service(
                "ingest",
                "--scorer-addr",
                scorer.address,
                "--feedback-addr",
                feedback.address,
                env={**env, **creds.env("ingest")},
            )
            for service in (feedback, learner, scorer, ingest):
                service.wait_serving(90)
        outcome = run_loop(
            steps,
            frame,
            replay_csv,
            run_id,
            bootstrap,
            feedback,
            learner,
            rate,
            report_share,
            analysts,
            analyst_delay,
            _TOKEN,
        )
        events = label_events(bootstrap)
        learner_metrics = scrape(learner.metrics_url)
    with steps.step("score the replayed rows with the frozen bundle and compare"):
        frozen = frozen_flags(frame, models)
        result = analyse(frame, drift_step, frozen, run_id, outcome, events, learner_metrics)
    result["steps"] = steps.as_dict()
    result["settings"] = {
        "rows": rows,
        "drift_step": drift_step,
        "seed": seed,
        "rate": rate,
        "report_share": report_share,
        "analysts": analysts,
        "analyst_delay": analyst_delay,
        "replayed_rows": len(frame),
    }
    json_path, png_path = write(result, reports)
    console.print_json(
        data={k: result[k] for k in ("new_pattern", "labels_to_recall", "label_to_served_seconds")}
    )
    console.print(f"wrote {json_path} and {png_path}")


def _register() -> None:
    """The fault-injection and soak commands live in their own modules of this package."""
    from fraudstream.cli.experiment.accounts import accounts
    from fraudstream.cli.experiment.chaos import chaos
    from fraudstream.cli.experiment.soak import soak

    experiment.add_command(accounts)
    experiment.add_command(chaos)
    experiment.add_command(soak)


_register()
