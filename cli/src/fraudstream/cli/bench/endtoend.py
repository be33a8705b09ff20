"""End to end on one machine: broker, ingest and scorer processes, `transactions` to `.scored`.

Phases on a fresh broker:
- live: with the bridge running, `fraudstream replay --rate 0` writes the events as fast as it
  can; the rate is measured from the first to the last Kafka timestamp of their scores on
  `transactions.scored` (when the replayer is slower than the pipeline, this is its rate);
- latency: `fraudstream replay --rate R` offers R events/s to the running bridge, and each
  event's latency is its score's Kafka timestamp minus its own on `transactions`, matched by
  event id;
- capacity: the bridge is stopped, the same number of events is written, and a new bridge
  drains that backlog, timed the same way: what the pipeline sustains, whatever the producer.
Timestamps are read back from Kafka after each phase, so reading them costs the run nothing.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from fraudstream.cli.bench.kafka_readback import (
    CpuMeter,
    latency_per_event,
    throughput,
    timestamps,
)
from fraudstream.cli.bench.machine import process_cpu_seconds
from fraudstream.cli.bench.workload import say
from fraudstream.cli.demo.credentials import DemoCredentials
from fraudstream.cli.kafka.readback import messages_in, scored_id, transaction_id
from fraudstream.cli.stack import ServiceHandle, Stack
from fraudstream.common import names

logger = logging.getLogger(__name__)

TARGET_TX_PER_S = 40_000.0
TARGET_P99_MS = 50.0
_WARMUP_EVENTS = 2_000


def replay_events(
    bootstrap: str,
    csv: Path,
    run_id: str,
    events: int,
    rate: float,
    topic: str = names.TRANSACTIONS,
) -> float:
    """`fraudstream replay` as its own process; returns the seconds it took."""
    began = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fraudstream.cli.main",
            "replay",
            "--input",
            str(csv),
            "--rate",
            str(rate),
            "--limit",
            str(events),
            "--run-id",
            run_id,
            "--bootstrap",
            bootstrap,
            "--topic",
            topic,
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        raise click.ClickException(f"fraudstream replay failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - began


def _wait_scored(
    bootstrap: str, expected: int, ingest: ServiceHandle, timeout: float, label: str
) -> None:
    """Until `transactions.scored` holds `expected` messages; progress lines meanwhile."""
    deadline = time.monotonic() + timeout
    last_line = time.monotonic()
    while True:
        scored = messages_in(bootstrap, names.TRANSACTIONS_SCORED)
        if scored >= expected:
            return
        if not ingest.running():
            raise click.ClickException(f"the ingest bridge exited\n{ingest.log_tail()}")
        if time.monotonic() > deadline:
            raise click.ClickException(
                f"{label}: only {scored:,} of {expected:,} scores after {timeout:.0f}s"
                f"\n{ingest.log_tail()}"
            )
        if time.monotonic() - last_line > 5:
            say(f"end to end, {label}: {scored:,} of {expected:,} scored")
            last_line = time.monotonic()
        time.sleep(0.5)


def run_endtoend(
    workdir: Path,
    models: Path,
    csv: Path,
    throughput_events: int,
    latency_events: int,
    offered_rate: float,
) -> dict[str, Any]:
    """The three phases on a fresh broker with one scorer and one ingest bridge."""
    stack_dir = workdir / "endtoend"
    if stack_dir.exists():
        shutil.rmtree(stack_dir)  # a fresh broker: no events from earlier runs
    stack_dir.mkdir(parents=True)
    scored_so_far = 0
    with Stack(stack_dir) as stack:
        say("end to end: starting Kafka")
        bootstrap = stack.start_kafka()
        creds = DemoCredentials.create(
            stack_dir / "auth", tls=False, analyst_token=secrets.token_urlsafe(16)
        )
        scorer = stack.start_service(
            "scorer",
            "--models",
            str(models.resolve()),
            "--learner-addr",
            "",
            env=creds.env("scorer"),
        )
        scorer.wait_serving(120)
        ingest_args = ["--kafka-bootstrap", bootstrap, "--feedback-addr", ""]
        ingest = stack.start_service(
            *("ingest", *ingest_args, "--scorer-addr", scorer.address), env=creds.env("ingest")
        )
        ingest.wait_serving(120)
        startup_cpu = process_cpu_seconds(ingest.process.pid)

        def phase(run_id: str, events: int, rate: float, label: str) -> float:
            nonlocal scored_so_far
            seconds = replay_events(bootstrap, csv, run_id, events, rate)
            scored_so_far += events
            _wait_scored(bootstrap, scored_so_far, ingest, 600, label)
            return seconds

        say("end to end: warming the bridge up at the offered rate")
        phase("warm", _WARMUP_EVENTS, offered_rate, "warm-up")
        say(f"end to end: replaying {throughput_events:,} events at rate 0 into the live bridge")
        live_seconds = phase("live", throughput_events, 0, "throughput")
        say(f"end to end: offering {latency_events:,} events at {offered_rate:,.0f} tx/s")
        phase("lat", latency_events, offered_rate, "latency")
        ingest.stop(30)  # drains and commits, so the next bridge starts after what is done

        def drain_phase(run_id: str, scorers: list[ServiceHandle], bridges: int) -> dict:
            """A backlog written while no bridge runs, then `bridges` bridges drain it."""
            nonlocal scored_so_far
            say(f"end to end: backlog of {throughput_events:,} events for {bridges} bridge(s)")
            kafka_pid = stack.kafka.pid() if stack.kafka is not None else None
            writing = CpuMeter({}, kafka_pid, children=True)
            replay_events(bootstrap, csv, run_id, throughput_events, 0)
            written = writing.per_transaction(throughput_events)
            args = [*ingest_args, "--scorer-addr", ",".join(s.address for s in scorers)]
            # The first keeps the static member id of the bridge before: it gets the partitions
            # back at once instead of after the session timeout.
            started = [
                stack.start_service(
                    "ingest", *args, "--instance-name", f"bridge{i or ''}", env=creds.env("ingest")
                )
                for i in range(bridges)
            ]
            # From their spawn (they may drain much of the backlog before they say SERVING),
            # less what a bridge uses to start (measured on the first, before any event).
            cpu = CpuMeter(
                {"ingest": started, "scorer": scorers},
                kafka_pid,
                startup={"ingest": bridges * startup_cpu},
            )
            for bridge in started:
                bridge.wait_serving(120)
            scored_so_far += throughput_events
            _wait_scored(bootstrap, scored_so_far, started[0], 600, f"{run_id} drain")
            used = cpu.per_transaction(throughput_events)
            for bridge in started:
                bridge.stop(30)
            # Writing the backlog: the producer (`fraudstream replay`) and the broker's side.
            used["writing"] = written
            return used

        drain_cpu = drain_phase("drain", [scorer], 1)
        second = stack.start_service(
            *("scorer", "--models", str(models.resolve()), "--learner-addr", ""),
            env=creds.env("scorer"),
        )
        second.wait_serving(120)
        drain_2x2_cpu = drain_phase("drain2x2", [scorer, second], 2)
        say("end to end: reading timestamps back from Kafka")
        scored = timestamps(bootstrap, names.TRANSACTIONS_SCORED, scored_id)
        produced = timestamps(bootstrap, names.TRANSACTIONS, transaction_id)
    live = throughput(scored, "live", throughput_events)
    live["replay_rate_0_tx_per_s"] = throughput_events / live_seconds
    # Scores cannot come out faster than the replayer writes events in: close to its rate, the
    # figure is the producer's bound, not the pipeline's.
    live["bounded_by_replay"] = live["tx_per_s"] >= 0.9 * live["replay_rate_0_tx_per_s"]
    live["how"] = (
        "`fraudstream replay --rate 0` into the running bridge; first to last Kafka timestamp "
        "of the events' scores on `transactions.scored`"
    )
    drain = throughput(scored, "drain", throughput_events)
    drain["cpu"] = drain_cpu
    drain["bridge_startup_cpu_seconds"] = startup_cpu
    drain["how"] = (
        "events written while no bridge runs, then one starts and catches up; first to last "
        "Kafka timestamp of their scores"
    )
    drain_2x2 = throughput(scored, "drain2x2", throughput_events)
    drain_2x2["cpu"] = drain_2x2_cpu
    drain_2x2["how"] = (
        "as backlog_drain, with 2 bridges (2 partitions each) over 2 scorers; the second bridge "
        "joins the group while the first drains, so compare tx_per_s_p10_p90"
    )
    latency = latency_per_event(produced, scored, "lat")
    latency["offered_rate"] = offered_rate
    latency["how"] = (
        "per event id: Kafka timestamp on `transactions.scored` minus Kafka timestamp on "
        "`transactions` (both CreateTime, same clock)"
    )
    return {
        "processes": "1 Kafka broker (KRaft, 4 partitions), 1 ingest bridge, 1 scorer (2 and 2 "
        "in backlog_drain_2x2); feedback not attached",
        "live_replay": live,
        "backlog_drain": drain,
        "backlog_drain_2x2": drain_2x2,
        "latency_at_offered_rate": latency,
    }
