"""The demo's live part: Kafka, the four services, replay, simulated analysts, view, summary."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from fraudstream.cli.analysts import GroundTruth, SimulatedAnalysts
from fraudstream.cli.demo.build import Steps
from fraudstream.cli.demo.config import KAFKA_PORT, LiveConfig, check_ports_free
from fraudstream.cli.demo.credentials import DemoCredentials
from fraudstream.cli.demo.flink import flink_job
from fraudstream.cli.demo.outcome import ScoredReader
from fraudstream.cli.demo.services import start_services
from fraudstream.cli.demo.summary import summarise
from fraudstream.cli.demo.view import Progress, render, status_line
from fraudstream.cli.demo.watch import Endpoints, PipelineProbe, PipelineSample, total
from fraudstream.cli.replay.producer import ReplayConfig, replay
from fraudstream.cli.stack import ServiceHandle, Stack, StackError
from fraudstream.common.codec import FORMATS

_STALL_SECONDS = 60.0  # no new score for this long after the replay ended: give up waiting
_CATCH_UP_SECONDS = 15.0  # how long the learner may take to consume the labels given


class _ReplayStopped(Exception):
    """Raised inside the replay's progress callback to end it early (Ctrl-C, failure)."""


class _ReplayThread(threading.Thread):
    def __init__(self, config: ReplayConfig, progress: Progress) -> None:
        super().__init__(name="replay", daemon=True)
        self.config = config
        self.progress = progress
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.seconds = 0.0

    def _advance(self, rows: int) -> None:
        self.progress.replayed += rows
        if self.stopping.is_set():
            raise _ReplayStopped

    def run(self) -> None:
        began = time.monotonic()
        try:
            summary = replay(self.config, on_progress=self._advance)
            if summary.failed:
                self.error = RuntimeError(f"{summary.failed} transactions were not delivered")
        except _ReplayStopped:
            pass
        except Exception as exc:  # reported by the main thread, which stops everything
            self.error = exc
        self.seconds = time.monotonic() - began


class LiveRun:
    """One run of the pipeline on a fresh runtime state in `<workdir>/run`."""

    def __init__(self, config: LiveConfig, steps: Steps, console: Console) -> None:
        self.config = config
        self.steps = steps
        self.console = console
        self.run_dir = config.workdir / "run"
        self.run_id = "demo" + time.strftime("%Y%m%dT%H%M%S")
        self.token = _analyst_token()
        self.credentials: DemoCredentials | None = None
        self.services: dict[str, ServiceHandle] = {}
        self.bootstrap = ""
        self.pids_file: Path | None = None

    def execute(self, truth: GroundTruth, truth_column: Any) -> dict[str, Any]:
        """Start everything, replay, watch, summarise; stop everything unless keep_running."""
        c = self.config
        if not c.free_ports:
            check_ports_free(c.scorers)
        shutil.rmtree(self.run_dir, ignore_errors=True)  # each run starts from empty state
        self.run_dir.mkdir(parents=True)
        with Stack(self.run_dir) as stack, contextlib.ExitStack() as jobs:
            with self.steps.step("start Kafka (KRaft, single node) and create the topics") as t:
                self.bootstrap = stack.start_kafka(None if c.free_ports else KAFKA_PORT)
                t.note = self.bootstrap
            if c.account_features == "flink":
                jobs.enter_context(flink_job(self.run_dir, self.bootstrap, self.steps, c))
            with self.steps.step("make a token per service and analyst") as t:
                creds = DemoCredentials.create(
                    self.run_dir / "auth", tls=c.tls, analyst_token=self.token
                )
                self.credentials = creds
                t.note = f"{creds.tokens_file}, {creds.transport_name}"
            self.services = start_services(stack, self.steps, c, self._env(), creds)
            console = self.services["console"]
            self.console.print(
                f"[bold]analyst console[/] {console.url} (sign in with the analyst token "
                f"{self.token})"
            )
            outcome = self._replay_and_watch(stack, truth, truth_column)
            if c.keep_running:
                self.pids_file = stack.detach()
        return outcome

    def how_to_use(self, workdir: Path) -> str:
        """What --keep-running leaves behind and how to reach each piece (rich markup)."""
        s = self.services
        creds = self.credentials
        tls = creds.tls_flags() if creds is not None else ""
        tokens = creds.tokens_file if creds is not None else "-"
        scorers = ", ".join(h.address for n, h in s.items() if n.startswith("scorer"))
        return f"""[bold green]the pipeline keeps running[/] (pids in {self.pids_file})
  Kafka         {self.bootstrap}
  scorer        {scorers}  (reflection: grpcurl list; data RPCs need a token)
  feedback      {s["feedback"].address}  (analyst token: {self.token})
  learner       {s["learner"].address}
  tokens        {tokens} (hashes; add people with `fraudstream tokens --file`)
  metrics       {", ".join(f"{n} :{h.metrics_port}" for n, h in s.items())}
  console       {s["console"].url}  (sign in with the analyst token)
  analyst UI    fraudstream review --addr {s["feedback"].address} --token {self.token}{tls}
  stop it all   fraudstream demo --stop --workdir {workdir}"""

    def _env(self) -> dict[str, str]:
        return {
            "FRAUDSTREAM_KAFKA_BOOTSTRAP": self.bootstrap,
            "FRAUDSTREAM_DATA_DIR": str(self.run_dir / "var"),
            "FRAUDSTREAM_MODELS": str(self.config.models.resolve()),
            # Clear analyst tokens the user gave still label (the tokens file has the rest).
            "FRAUDSTREAM_ANALYST_TOKENS": os.environ.get("FRAUDSTREAM_ANALYST_TOKENS", ""),
            "FRAUDSTREAM_GRACE_SECONDS": "5",
        }

    def endpoints(self) -> Endpoints:
        s = self.services
        return Endpoints(
            ingest_metrics=s["ingest"].metrics_url,
            scorer_metrics=s["scorer"].metrics_url,
            feedback_metrics=s["feedback"].metrics_url,
            learner_metrics=s["learner"].metrics_url,
            scorer_addr=s["scorer"].address,
            learner_addr=s["learner"].address,
        )

    def _replay_and_watch(
        self, stack: Stack, truth: GroundTruth, truth_column: Any
    ) -> dict[str, Any]:
        c = self.config
        progress = Progress(rows=c.rows)
        reader = ScoredReader(self.bootstrap, self.run_id, truth_column)
        assert self.credentials is not None
        analysts = SimulatedAnalysts(
            self.services["feedback"].address,
            self.token,
            truth,
            analysts=c.analysts,
            delay=c.analyst_delay,
            error_rate=c.error_rate,
            seed=c.seed,
            # The certificate under TLS; the analyst's token goes on each call.
            channel_factory=self.credentials.transport(None).channel,
        )
        replayer = _ReplayThread(
            ReplayConfig(
                input=c.replay_csv,
                bootstrap=self.bootstrap,
                rate=c.rate,
                run_id=self.run_id,
                limit=c.rows,
                # The Flink job reads JSON values only (docs/flink.md).
                content_type=FORMATS["json" if c.account_features == "flink" else "protobuf"],
            ),
            progress,
        )
        probe = PipelineProbe(self.endpoints(), self.credentials.transport())
        title = (
            f"replay {c.rows:,} transactions ({c.rate:,.0f} tx/s)"
            if c.rate
            else (f"replay {c.rows:,} transactions (as fast as the pipeline takes them)")
        )
        try:
            reader.start()
            analysts.start()
            with self.steps.step(title) as timer:
                replayer.start()
                began = time.monotonic()
                samples = self._watch(stack, progress, reader, analysts, replayer, probe)
                seconds = time.monotonic() - began
                timer.note = f"{reader.scored:,} scored, {reader.scored / seconds:,.0f} tx/s"
            with self.steps.step("let the learner consume the labels given so far"):
                self._learner_catch_up(probe)
            final = probe.sample()
            return summarise(
                self.run_id,
                c,
                reader,
                analysts,
                replayer.seconds,
                final,
                samples[0],
                seconds,
                progress,
            )
        finally:
            replayer.stopping.set()
            analysts.stop(timeout=5)
            reader.stop()
            probe.close()

    def _watch(
        self,
        stack: Stack,
        progress: Progress,
        reader: ScoredReader,
        analysts: SimulatedAnalysts,
        replayer: _ReplayThread,
        probe: PipelineProbe,
    ) -> list[PipelineSample]:
        """Refresh the view until every replayed row is scored; fail fast on a dead service."""
        first = probe.sample()
        before, last_change, last_scored = first, time.monotonic(), -1
        interactive = self.console.is_terminal
        live = Live(console=self.console, refresh_per_second=2) if interactive else None
        last_line = 0.0
        with live if live is not None else contextlib.nullcontext():
            while True:
                time.sleep(1.0)
                for service in self.services.values():
                    if not service.running():
                        raise StackError(f"the {service.name} stopped\n{service.log_tail()}")
                if replayer.error is not None:
                    raise RuntimeError(f"replay failed: {replayer.error}")
                progress.scored, progress.flagged = reader.scored, reader.flagged
                progress.analyst_labels = analysts.stats.labels
                now = probe.sample()
                if live is not None:
                    live.update(render(progress, now, before))
                elif now.at - last_line >= 5.0:
                    self.console.print(status_line(progress, now, before), soft_wrap=True)
                    last_line = now.at
                before = now
                if reader.scored != last_scored:
                    last_scored, last_change = reader.scored, time.monotonic()
                done = not replayer.is_alive()
                if done and reader.scored >= progress.replayed:
                    break
                if done and time.monotonic() - last_change > _STALL_SECONDS:
                    self.console.print(
                        f"[yellow]no new score for {_STALL_SECONDS:.0f} s: "
                        f"{progress.replayed - reader.scored:,} replayed rows unscored[/]"
                    )
                    break
        return [first, before]

    def _learner_catch_up(self, probe: PipelineProbe) -> None:
        deadline = time.monotonic() + _CATCH_UP_SECONDS
        while time.monotonic() < deadline:
            sample = probe.sample()
            logged = total(sample.feedback, "feedback_label_log_position")
            status = sample.learner_status
            if status is not None and status.label_position >= logged:
                return
            time.sleep(0.25)


def _analyst_token() -> str:
    """The token simulated analysts label with: the first of $FRAUDSTREAM_ANALYST_TOKENS or new."""
    configured = os.environ.get("FRAUDSTREAM_ANALYST_TOKENS", "").split(",")[0].strip()
    if configured:
        return configured.split(":", 1)[-1]
    return "demo-" + secrets.token_hex(8)
