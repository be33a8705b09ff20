"""The drift experiment's live loop: replay through the pipeline, labels, reported frauds."""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
from confluent_kafka import Consumer

from fraudstream.cli.analysts import GroundTruth, SimulatedAnalysts
from fraudstream.cli.demo.build import Steps
from fraudstream.cli.demo.outcome import ScoredReader
from fraudstream.cli.replay.producer import ReplayConfig, replay
from fraudstream.cli.replay.transactions import transactions_of
from fraudstream.cli.stack import ServiceHandle
from fraudstream.common import names
from fraudstream.common.kafka import kafka_config
from fraudstream.v1 import (
    alert_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    learner_service_pb2,
    learner_service_pb2_grpc,
    model_pb2,
    score_pb2,
)

logger = logging.getLogger(__name__)

_ALLOW = score_pb2.DECISION_ALLOW


class _FraudReports:
    """Missed frauds come back as customer reports (chargebacks): cases analysts then label.

    The scored topic carries the served score with its feature vector, so the
    case is exactly what the scorer saw, as for an alert.
    """

    def __init__(
        self, feedback: ServiceHandle, frame: pd.DataFrame, run_id: str, share: float
    ) -> None:
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
        # Its selection probability is the chance a missed fraud is reported at all: the
        # learner's evidence weighs it by the inverse, as it does an audit by the audit rate.
        alert = alert_pb2.Alert(
            transaction=transaction,
            score=score,
            kind=alert_pb2.ALERT_KIND_AUDIT,
            selection_probability=self._share,
        )
        alert.alert_time.GetCurrentTime()
        self._outbox.put(alert)

    def _requests(self) -> Any:
        while (alert := self._outbox.get()) is not None:
            self.reported += 1
            yield feedback_service_pb2.ReportAlertsRequest(alerts=[alert])

    def _run(self) -> None:
        with self._feedback.transport.channel(self._feedback.address) as channel:
            stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
            for _ack in stub.ReportAlerts(self._requests(), wait_for_ready=True):
                pass


class _LearnerLog:
    """Polls GetLearnerStatus: the label position each champion version learned up to."""

    def __init__(self, learner: ServiceHandle) -> None:
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
        with self._learner.transport.channel(self._learner.address) as channel:
            stub = learner_service_pb2_grpc.LearnerServiceStub(channel)
            while not self._stop.wait(0.1):
                try:
                    status = stub.GetLearnerStatus(
                        learner_service_pb2.GetLearnerStatusRequest(), timeout=2
                    )
                except grpc.RpcError:
                    continue
                self.position_of.setdefault(status.champion_version, status.label_position)


def snapshot_positions(data_dir: Path) -> dict[int, int]:
    """Version -> label position of every snapshot the learner saved under `data_dir` (its
    FRAUDSTREAM_DATA_DIR): the newest label each one learned from, as the snapshot says.

    The status the run polls gives the learner's position at the end of the label batch a
    promotion happened in, which can be tens of labels past what the promoted snapshot
    learned; a snapshot pruned from disk keeps the polled position.
    """
    positions: dict[int, int] = {}
    for path in data_dir.glob("learner/*/snapshots/v*.binpb"):
        snapshot = model_pb2.ModelSnapshot.FromString(path.read_bytes())
        positions[int(snapshot.version)] = int(snapshot.label_position)
    return positions


def label_events(bootstrap: str) -> dict[int, str]:
    """Label-log position -> event id, from the fraud.labels topic."""
    consumer = Consumer(
        kafka_config(
            bootstrap,
            {
                "group.id": f"fraudstream-experiment-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            },
        ),
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


def run_loop(
    steps: Steps,
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
    token: str,
) -> dict[str, Any]:
    """Replay the frame through the running services, analysts labeling; what was decided."""
    truth = frame["isFraud"].to_numpy()
    reports = _FraudReports(feedback, frame, run_id, report_share)
    reader = ScoredReader(bootstrap, run_id, truth, on_score=reports.on_score)
    team = SimulatedAnalysts(
        feedback.address,
        token,
        GroundTruth(truth),
        analysts=analysts,
        delay=analyst_delay,
        seed=1,
        channel_factory=feedback.transport.channel,
    )
    log = _LearnerLog(learner)
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
