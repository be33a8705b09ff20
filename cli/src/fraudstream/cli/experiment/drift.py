"""`fraudstream experiment drift`: does the online loop learn a fraud pattern the bundle misses?"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import grpc
import pandas as pd
from rich.console import Console

from fraudstream.cli.demo.build import Builder, Steps
from fraudstream.cli.demo.credentials import ADMINISTRATOR, DemoCredentials
from fraudstream.cli.demo.watch import scrape, total
from fraudstream.cli.experiment.loop import label_events, run_loop, snapshot_positions
from fraudstream.cli.stack import ServiceHandle, Stack
from fraudstream.common.transport import Transport
from fraudstream.v1 import learner_service_pb2, learner_service_pb2_grpc

logger = logging.getLogger(__name__)

_TOKEN = "experiment-" + uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class DriftRun:
    """One run's knobs (the seed is the simulated data's)."""

    rows: int
    drift_step: int
    context_steps: int
    rate: float
    report_share: float
    analysts: int
    analyst_delay: float
    workdir: Path


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


def run_seed(run: DriftRun, seed: int, steps: Steps) -> dict[str, Any]:
    """Simulate, train on pre-drift rows, replay through the live loop, compare with frozen."""
    from fraudstream.cli.experiment.report import analyse, frozen_flags

    workdir = run.workdir
    builder = Builder(workdir, steps)
    csv = builder.simulate(
        run.rows, seed, workdir / f"drift-{run.rows}-s{seed}-d{run.drift_step}.csv", run.drift_step
    )
    with steps.step(
        f"split at step {run.drift_step}: pre-drift training data, replay from step "
        f"{run.drift_step - run.context_steps}"
    ):
        train_csv, replay_csv = _split(csv, run.drift_step, run.context_steps, workdir)
    models = builder.train(
        builder.features(train_csv, train_csv.with_suffix(".parquet")),
        workdir / f"models-s{seed}",
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
            creds = DemoCredentials.create(
                run_dir / "auth", tls=False, analyst_token=_TOKEN, admin=True
            )
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
            run.rate,
            run.report_share,
            run.analysts,
            run.analyst_delay,
            _TOKEN,
        )
        rollback = _time_a_rollback(learner, creds.transport(ADMINISTRATOR))
        events = label_events(bootstrap)
        learner_metrics = scrape(learner.metrics_url)
    polled = outcome["position_of"]
    outcome["position_of"] = {**polled, **snapshot_positions(run_dir / "var")}
    with steps.step("score the replayed rows with the frozen bundle and compare"):
        frozen = frozen_flags(frame, models)
        result = analyse(frame, run.drift_step, frozen, run_id, outcome, events, learner_metrics)
        # The count as runs before snapshot positions measured it, for comparison.
        by_status = analyse(
            frame,
            run.drift_step,
            frozen,
            run_id,
            {**outcome, "position_of": polled},
            events,
            learner_metrics,
        )
    result["labels_to_recall"]["new_pattern_labels_by_polled_status"] = by_status[
        "labels_to_recall"
    ]["new_pattern_labels"]
    result["seed"] = seed
    result["replayed_rows"] = len(frame)
    result["operator_rollback"] = rollback
    return result


_ROLLED_BACK = "learner_snapshot_to_fleet_seconds_count"


def _time_a_rollback(
    learner: ServiceHandle, admin: Transport, timeout: float = 10.0
) -> dict[str, Any]:
    """After the replay, roll back once as an operator would (`fraudstream model rollback`),
    so every run measures a rollback reaching every scorer; the learner's
    learner_snapshot_to_fleet_seconds{kind="rollback"} times it (decisions are already in)."""
    request = learner_service_pb2.RollbackRequest(
        reason="experiment: time a rollback to every scorer"
    )
    with admin.channel(learner.address) as channel:
        stub = learner_service_pb2_grpc.LearnerServiceStub(channel)
        try:
            record = stub.Rollback(request, timeout=timeout).rollback
        except grpc.RpcError as exc:
            # No earlier champion (nothing was promoted): nothing to roll back to.
            return {"done": False, "why": exc.details()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if total(scrape(learner.metrics_url), _ROLLED_BACK, kind="rollback") >= 1:
            break
        time.sleep(0.1)
    return {
        "done": True,
        "version": record.version,
        "rolled_back_from": record.rolled_back_from,
        "restored_version": record.restored_version,
    }


@click.command("drift")
@click.option("--rows", type=click.IntRange(min=10_000), default=300_000, show_default=True)
@click.option("--drift-step", type=click.IntRange(2, 742), default=400, show_default=True)
@click.option("--seed", type=int, default=23, show_default=True, help="First data seed.")
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Runs, on data seeds --seed, --seed + 1, ...; the verdict is the worst run's.",
)
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
    seeds: int,
    context_steps: int,
    rate: float,
    report_share: float,
    analysts: int,
    analyst_delay: float,
    workdir: Path,
    reports: Path,
) -> None:
    """Structuring fraud appears at --drift-step; the bundle never saw it.

    For each data seed: trains on pre-drift data, replays from just before the
    drift through the full loop (simulated analysts label alerts and
    customer-reported frauds), then compares recall on the new pattern of the
    online system with the same bundle frozen. Writes reports/experiment_drift.json
    (every run, the worst of them and the verdict) and .png.
    """
    from fraudstream.cli.experiment.report import combine, write

    console = Console(highlight=False)
    steps = Steps(console)
    run = DriftRun(
        rows, drift_step, context_steps, rate, report_share, analysts, analyst_delay, workdir
    )
    runs = []
    for data_seed in range(seed, seed + seeds):
        result = run_seed(run, data_seed, steps)
        console.print(
            f"seed {data_seed}: recall on the new pattern {result['new_pattern']['online_recall']} "
            f"(frozen {result['new_pattern']['frozen_recall']}), labels to recall "
            f"{result['labels_to_recall']['new_pattern_labels']}"
        )
        runs.append(result)
    combined = combine(runs)
    combined["steps"] = steps.as_dict()
    combined["settings"] = {
        "rows": rows,
        "drift_step": drift_step,
        "seeds": list(range(seed, seed + seeds)),
        "rate": rate,
        "report_share": report_share,
        "analysts": analysts,
        "analyst_delay": analyst_delay,
    }
    json_path, png_path = write(combined, reports)
    console.print_json(data={k: combined[k] for k in ("worst", "verdict")})
    console.print(f"wrote {json_path} and {png_path}")
