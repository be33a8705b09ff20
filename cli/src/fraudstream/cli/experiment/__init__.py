"""`fraudstream experiment drift`: does the online loop learn a fraud pattern the bundle misses?"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import click
import grpc
import numpy as np
import pandas as pd
from confluent_kafka import Consumer
from rich.console import Console

from fraudstream.cli.analysts import GroundTruth, SimulatedAnalysts
from fraudstream.cli.demo.build import Builder, Steps
from fraudstream.cli.demo.outcome import ScoredReader
from fraudstream.cli.demo.watch import scrape
from fraudstream.cli.replay.producer import ReplayConfig, replay, transactions_of
from fraudstream.cli.stack import ServiceHandle, Stack
from fraudstream.common import names
from fraudstream.v1 import (
    alert_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    learner_service_pb2,
    learner_service_pb2_grpc,
    score_pb2,
)

logger = logging.getLogger(__name__)

_TOKEN = "experiment-" + uuid.uuid4().hex[:8]
_ALLOW = score_pb2.DECISION_ALLOW


class _FraudReports:
    """Missed frauds come back as customer reports (chargebacks): cases analysts then label.

    The scored topic carries the served score with its feature vector, so the
    case is exactly what the scorer saw, as for an alert.
    """

    def __init__(self, feedback: str, frame: pd.DataFrame, run_id: str, share: float) -> None:
        self._feedback = feedback
        self._frame = frame
        self._run_id = run_id
        self._share = share
        self._rng = np.random.default_rng(7)
        self._fraud = frame["isFraud"].to_numpy() == 1
        self._outbox: queue.Queue[alert_pb2.Alert | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="fraud-reports", daemon=True)
        self.reported = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._outbox.put(None)
        self._thread.join(timeout=10)

    def on_score(self, row: int, score: score_pb2.Score) -> None:
        if score.decision != _ALLOW or not self._fraud[row] or self._rng.random() >= self._share:
            return
        (transaction,) = transactions_of(self._frame.iloc[row : row + 1], self._run_id, row)
        alert = alert_pb2.Alert(
            transaction=transaction, score=score, kind=alert_pb2.ALERT_KIND_AUDIT
        )
        alert.alert_time.GetCurrentTime()
        self._outbox.put(alert)

    def _requests(self) -> Any:
        while (alert := self._outbox.get()) is not None:
            self.reported += 1
            yield feedback_service_pb2.ReportAlertsRequest(alerts=[alert])

    def _run(self) -> None:
        with grpc.insecure_channel(self._feedback) as channel:
            stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
            for _ack in stub.ReportAlerts(self._requests(), wait_for_ready=True):
                pass


class _LearnerLog:
    """Polls GetLearnerStatus: the label position each champion version learned up to."""

    def __init__(self, learner: str) -> None:
        self._learner = learner
        self.position_of: dict[int, int] = {0: 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="learner-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with grpc.insecure_channel(self._learner) as channel:
            stub = learner_service_pb2_grpc.LearnerServiceStub(channel)
            while not self._stop.wait(0.1):
                try:
                    status = stub.GetLearnerStatus(
                        learner_service_pb2.GetLearnerStatusRequest(), timeout=2
                    )
                except grpc.RpcError:
                    continue
                self.position_of.setdefault(status.champion_version, status.label_position)


def _label_events(bootstrap: str) -> dict[int, str]:
    """Label-log position -> event id, from the fraud.labels topic."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"fraudstream-experiment-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([names.FRAUD_LABELS])
    events: dict[int, str] = {}
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 5:
        messages = consumer.consume(num_messages=1000, timeout=0.5)
        if messages:
            idle_since = time.monotonic()
        for message in messages:
            if message.error() is None:
                position = int(dict(message.headers() or [])["position"] or 0)
                events[position] = (message.key() or b"").decode()
    consumer.close()
    return events


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
    with Stack(run_dir) as stack:
        with steps.step("start Kafka and the four services"):
            bootstrap = stack.start_kafka()
            env = {
                "FRAUDSTREAM_KAFKA_BOOTSTRAP": bootstrap,
                "FRAUDSTREAM_DATA_DIR": str((run_dir / "var").resolve()),
                "FRAUDSTREAM_MODELS": str(models.resolve()),
                "FRAUDSTREAM_ANALYST_TOKENS": f"experiment:{_TOKEN}",
                "FRAUDSTREAM_GRACE_SECONDS": "3",
            }
            feedback = stack.start_service("feedback", env=env)
            learner = stack.start_service("learner", "--feedback-addr", feedback.address, env=env)
            scorer = stack.start_service("scorer", "--learner-addr", learner.address, env=env)
            ingest = stack.start_service(
                "ingest",
                "--scorer-addr",
                scorer.address,
                "--feedback-addr",
                feedback.address,
                env=env,
            )
            for service in (feedback, learner, scorer, ingest):
                service.wait_serving(90)
        outcome = _run_loop(
            steps,
            console,
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
        )
        label_events = _label_events(bootstrap)
        learner_metrics = scrape(learner.metrics_url)
    with steps.step("score the replayed rows with the frozen bundle and compare"):
        frozen = frozen_flags(frame, models)
        result = analyse(frame, drift_step, frozen, run_id, outcome, label_events, learner_metrics)
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


def _run_loop(
    steps: Steps,
    console: Console,
    frame: pd.DataFrame,
    replay_csv: Path,
    run_id: str,
    bootstrap: str,
    feedback: ServiceHandle,
    learner: ServiceHandle,
    rate: float,
    report_share: float,
    analysts: int,
    analyst_delay: float,
) -> dict[str, Any]:
    truth = frame["isFraud"].to_numpy()
    reports = _FraudReports(feedback.address, frame, run_id, report_share)
    reader = ScoredReader(bootstrap, run_id, truth, on_score=reports.on_score)
    team = SimulatedAnalysts(
        feedback.address, _TOKEN, GroundTruth(truth), analysts=analysts, delay=analyst_delay, seed=1
    )
    log = _LearnerLog(learner.address)
    with steps.step(f"replay {len(frame):,} rows at {rate:,.0f} tx/s through the loop") as timer:
        for part in (reports, reader, team, log):
            part.start()
        try:
            replay(ReplayConfig(input=replay_csv, bootstrap=bootstrap, rate=rate, run_id=run_id))
            deadline = time.monotonic() + 120
            while reader.scored < len(frame) and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(max(analyst_delay * 4, 3.0))  # last reports labeled and learned
        finally:
            team.stop()
            reports.stop()
            log.stop()
            reader.stop()
        timer.note = f"{reader.scored:,} scored, {reports.reported} frauds reported back"
    decisions, versions = reader.decisions()
    return {
        "decisions": decisions,
        "versions": versions,
        "position_of": dict(log.position_of),
        "reported": reports.reported,
        "labels": team.stats.labels,
    }
