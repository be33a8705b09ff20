"""The live part of a chaos run: replay with analysts labeling, one `kill -9` after another."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from rich.console import Console

from fraudstream.cli.analysts import GroundTruth, SimulatedAnalysts
from fraudstream.cli.demo.build import Steps
from fraudstream.cli.demo.watch import scrape, total
from fraudstream.cli.experiment.observe import (
    LearnerWatch,
    ScoredLog,
    alert_copies,
    label_log,
    learner_status,
    stored_alerts,
    wait_learner_caught_up,
)
from fraudstream.cli.experiment.pipeline import BROKER, Pipeline, PipelineConfig
from fraudstream.cli.experiment.replayer import SteadyReplay
from fraudstream.cli.stack import Stack
from fraudstream.v1 import scoring_service_pb2, scoring_service_pb2_grpc

_RECOVERY_TIMEOUT = 180.0  # a fault not recovered by then is reported as not recovered
_STALL_SECONDS = 60.0
_CATCH_UP_SECONDS = 30.0


@dataclass(frozen=True)
class ChaosPlan:
    """What to replay and which processes to kill, in order."""

    replay_csv: Path
    truth: np.ndarray
    events: int
    rate: float
    faults: tuple[str, ...]
    warmup: float  # seconds of undisturbed replay before the first kill
    settle: float  # seconds between one fault's recovery and the next kill
    analysts: int
    analyst_delay: float
    seed: int


@dataclass
class FaultRecord:
    """One kill and restart, in wall-clock seconds."""

    kind: str
    pid: int
    killed_at: float
    relaunched_at: float = 0.0
    serving_at: float = 0.0
    restart_to_serving: float = 0.0
    resume_from: float = 0.0  # scores after this moment count as recovery
    recovered: bool = False
    served_after: dict[str, Any] = field(default_factory=dict)


class ChaosRun:
    """Start the pipeline, replay, kill and restart each fault in turn, gather what happened."""

    def __init__(self, config: PipelineConfig, plan: ChaosPlan, steps: Steps, console: Console):
        self.config = config
        self.plan = plan
        self.steps = steps
        self.console = console
        self.run_id = "chaos" + time.strftime("%H%M%S")
        self.faults: list[FaultRecord] = []
        self.skipped: list[str] = []
        self._last_line = 0.0

    def execute(self) -> dict[str, Any]:
        """Everything the report needs, with every process stopped when it returns."""
        shutil.rmtree(self.config.run_dir, ignore_errors=True)  # each run starts from nothing
        with Stack(self.config.run_dir) as stack:
            pipeline = Pipeline(self.config, stack)
            with self.steps.step("start Kafka and the four services") as timer:
                startup = pipeline.start()
                timer.note = ", ".join(f"{k} {v:.1f} s" for k, v in startup.items())
            return {"startup_seconds": startup, **self._run(pipeline)}

    def _run(self, pipeline: Pipeline) -> dict[str, Any]:
        p = self.plan
        scored = ScoredLog(pipeline.bootstrap, self.run_id, p.events)
        learner = LearnerWatch(pipeline.address("learner"), pipeline.transport)
        analysts = SimulatedAnalysts(
            pipeline.address("feedback"),
            self.config.token,
            GroundTruth(p.truth),
            analysts=p.analysts,
            delay=p.analyst_delay,
            seed=p.seed,
        )
        replayer = SteadyReplay(p.replay_csv, pipeline.bootstrap, p.rate, p.events, self.run_id)
        for part in (scored, learner, analysts):
            part.start()
        began = time.time()
        try:
            with self.steps.step(f"replay {p.events:,} events at {p.rate:,.0f}/s, faults") as t:
                replayer.start()
                next_kill = began + p.warmup
                for kind in p.faults:
                    self._wait_until(next_kill, pipeline, scored, analysts, replayer, began)
                    if not replayer.is_alive():
                        self.console.print(f"    [yellow]replay over before {kind}: skipped[/]")
                        self.skipped.append(kind)
                        continue
                    self._inject(kind, pipeline, scored, analysts, replayer, began)
                    next_kill = time.time() + p.settle
                self._wait_scored(pipeline, scored, analysts, replayer, began)
                t.note = f"{scored.scored:,} of {replayer.replayed:,} scored"
            with self.steps.step("let the learner take every label, then read back"):
                analysts.stop(timeout=10)  # sessions end once their verdicts are acked
                wait_learner_caught_up(
                    pipeline.services["feedback"].metrics_url,
                    pipeline.services["learner"].metrics_url,
                    _CATCH_UP_SECONDS,
                )
                final = learner_status(pipeline.address("learner"), pipeline.transport)
                status = scrape(pipeline.services["feedback"].metrics_url)
                alerts = stored_alerts(
                    pipeline.address("feedback"), self.config.token, self.run_id, pipeline.transport
                )
                copies = alert_copies(pipeline.bootstrap, self.run_id)
                labels = label_log(pipeline.bootstrap, self.run_id)
        finally:
            analysts.stop(timeout=5)
            learner.stop()
            scored.stop()
        return {
            "run_id": self.run_id,
            "began": began,
            "replayed": replayer.replayed,
            "replay_error": str(replayer.error) if replayer.error else None,
            "scored": scored,
            "faults": self.faults,
            "skipped": self.skipped,
            "learner_history": learner.history,
            "learner_went_back": learner.went_back(),
            "learner_final": final,
            "acked": analysts.acknowledged(),
            "stored_alerts": alerts,
            "alert_copies": copies,
            "labels": labels,
            "feedback_log_position": int(total(status, "feedback_label_log_position")),
        }

    def _inject(
        self,
        kind: str,
        pipeline: Pipeline,
        scored: ScoredLog,
        analysts: SimulatedAnalysts,
        replayer: SteadyReplay,
        began: float,
    ) -> None:
        pid = pipeline.kill(kind)
        record = FaultRecord(kind, pid, time.time())
        self.faults.append(record)
        self.console.print(f"    t+{record.killed_at - began:5.1f} s  kill -9 {kind} (pid {pid})")
        pipeline.relaunch(kind)
        record.relaunched_at = time.time()
        record.restart_to_serving = pipeline.wait_serving(kind)
        record.serving_at = time.time()
        # While the broker is down the bridge may still produce into its buffer, with
        # timestamps of that time: only scores stamped after it answers again count.
        record.resume_from = record.serving_at if kind == BROKER else record.relaunched_at
        self.console.print(
            f"    t+{record.serving_at - began:5.1f} s  {kind} serving again "
            f"{record.restart_to_serving:.1f} s after its restart"
        )
        deadline = time.time() + _RECOVERY_TIMEOUT
        while time.time() < deadline:
            if scored.newest_ms / 1000 >= record.resume_from:
                record.recovered = True
                break
            if not replayer.is_alive() and scored.scored >= replayer.replayed:
                break  # nothing left to score: recovery cannot show
            self._progress(pipeline, scored, analysts, replayer, began, wait=0.2)
        if kind == "scorer":
            record.served_after = self._served_model(pipeline)
        state = f"scoring again {scored.newest_ms / 1000 - record.killed_at:.1f} s after the kill"
        self.console.print(f"    t+{time.time() - began:5.1f} s  {kind}: " + state)

    def _served_model(self, pipeline: Pipeline) -> dict[str, Any]:
        """What a restarted scorer serves, against the learner's champion."""
        with pipeline.transport.channel(pipeline.address("scorer")) as channel:
            stub = scoring_service_pb2_grpc.ScoringServiceStub(channel)
            try:
                info = stub.GetModelInfo(scoring_service_pb2.GetModelInfoRequest(), timeout=5)
            except grpc.RpcError as exc:
                return {"error": exc.code().name}
        return {"model_version": info.model_version}

    def _wait_until(
        self,
        moment: float,
        pipeline: Pipeline,
        scored: ScoredLog,
        analysts: SimulatedAnalysts,
        replayer: SteadyReplay,
        began: float,
    ) -> None:
        while time.time() < moment and replayer.is_alive():
            self._progress(pipeline, scored, analysts, replayer, began, wait=0.25)

    def _wait_scored(
        self,
        pipeline: Pipeline,
        scored: ScoredLog,
        analysts: SimulatedAnalysts,
        replayer: SteadyReplay,
        began: float,
    ) -> None:
        last, changed = -1, time.monotonic()
        while replayer.is_alive() or scored.scored < replayer.replayed:
            self._progress(pipeline, scored, analysts, replayer, began, wait=0.5)
            if scored.scored != last:
                last, changed = scored.scored, time.monotonic()
            elif not replayer.is_alive() and time.monotonic() - changed > _STALL_SECONDS:
                self.console.print(f"    [yellow]no new score for {_STALL_SECONDS:.0f} s[/]")
                return

    def _progress(
        self,
        pipeline: Pipeline,
        scored: ScoredLog,
        analysts: SimulatedAnalysts,
        replayer: SteadyReplay,
        began: float,
        wait: float,
    ) -> None:
        time.sleep(wait)
        pipeline.check_alive()
        if replayer.error is not None:
            raise RuntimeError(f"replay failed: {replayer.error}")
        now = time.time()
        if now - self._last_line >= 5.0:
            self._last_line = now
            self.console.print(
                f"    t+{now - began:5.1f} s  replayed {replayer.replayed:,}  "
                f"scored {scored.scored:,}  labels acked {analysts.stats.labels:,}"
            )
