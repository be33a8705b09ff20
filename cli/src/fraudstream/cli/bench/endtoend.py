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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from confluent_kafka import Consumer, TopicPartition

from fraudstream.cli.bench.loadgen import latency_summary
from fraudstream.cli.bench.workload import say
from fraudstream.cli.demo.credentials import DemoCredentials
from fraudstream.cli.stack import ServiceHandle, Stack
from fraudstream.common import names
from fraudstream.common.codec import CONTENT_TYPE_HEADER, decode_transaction
from fraudstream.common.kafka import kafka_config

logger = logging.getLogger(__name__)

TARGET_TX_PER_S = 30_000.0
TARGET_P99_MS = 100.0
_WARMUP_EVENTS = 2_000


def _replay(bootstrap: str, csv: Path, run_id: str, events: int, rate: float) -> float:
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
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        raise click.ClickException(f"fraudstream replay failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - began


def _end_offsets(bootstrap: str, topic: str) -> list[tuple[int, int]]:
    consumer = Consumer(
        kafka_config(
            bootstrap,
            {
                "group.id": "fraudstream-bench-probe",
                "enable.auto.commit": False,
            },
        ),
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in sorted(metadata.partitions)
        ]
    finally:
        consumer.close()


def _messages_in(bootstrap: str, topic: str) -> int:
    return sum(high for _low, high in _end_offsets(bootstrap, topic))


def _wait_scored(
    bootstrap: str, expected: int, ingest: ServiceHandle, timeout: float, label: str
) -> None:
    """Until `transactions.scored` holds `expected` messages; progress lines meanwhile."""
    deadline = time.monotonic() + timeout
    last_line = time.monotonic()
    while True:
        scored = _messages_in(bootstrap, names.TRANSACTIONS_SCORED)
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


def _timestamps(
    bootstrap: str, topic: str, event_id: Callable[[Any], str | None]
) -> dict[str, list[int]]:
    """Kafka timestamps (ms) of every message of `topic`, by event id."""
    ends = _end_offsets(bootstrap, topic)
    consumer = Consumer(
        kafka_config(
            bootstrap,
            {
                "group.id": "fraudstream-bench-reader",
                "enable.auto.commit": False,
            },
        ),
    )
    found: dict[str, list[int]] = {}
    try:
        consumer.assign([TopicPartition(topic, p, low) for p, (low, _h) in enumerate(ends)])
        left = sum(high - low for low, high in ends)
        while left > 0:
            batch = consumer.consume(10_000, timeout=5)
            if not batch:
                raise click.ClickException(f"reading {topic} stalled with {left} messages left")
            for message in batch:
                if message.error():
                    continue
                left -= 1
                key = event_id(message)
                if key is not None:
                    found.setdefault(key, []).append(message.timestamp()[1])
    finally:
        consumer.close()
    return found


def _transaction_id(message: Any) -> str | None:
    raw = dict(message.headers() or []).get(CONTENT_TYPE_HEADER)
    return decode_transaction(message.value(), raw.decode() if raw else None).event_id


def _scored_id(message: Any) -> str | None:
    return message.key().decode()


def _throughput(scored: dict[str, list[int]], run_id: str, events: int) -> dict[str, Any]:
    stamps = [min(t) for key, t in scored.items() if key.startswith(f"{run_id}-")]
    if len(stamps) < events:
        raise click.ClickException(f"only {len(stamps)} of {events} events were scored")
    seconds = (max(stamps) - min(stamps)) / 1000.0
    return {
        "events": len(stamps),
        "duplicates": sum(len(t) - 1 for k, t in scored.items() if k.startswith(f"{run_id}-")),
        "seconds_first_to_last_score": seconds,
        "tx_per_s": (len(stamps) - 1) / seconds,
    }


def _latency(
    produced: dict[str, list[int]], scored: dict[str, list[int]], run_id: str
) -> dict[str, Any]:
    delays, offered = [], []
    for key, stamps in produced.items():
        if key.startswith(f"{run_id}-") and key in scored:
            offered.append(stamps[0])
            delays.append((min(scored[key]) - stamps[0]) / 1000.0)
    span = (max(offered) - min(offered)) / 1000.0
    return {
        "events": len(delays),
        "achieved_offered_rate": (len(offered) - 1) / span if span > 0 else None,
        "latency": latency_summary(delays),
        "resolution_ms": 1,
    }


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
        ingest_args = ["--kafka-bootstrap", bootstrap, "--scorer-addr", scorer.address]
        ingest_args += ["--feedback-addr", ""]
        ingest = stack.start_service("ingest", *ingest_args, env=creds.env("ingest"))
        ingest.wait_serving(120)

        def phase(run_id: str, events: int, rate: float, label: str) -> float:
            nonlocal scored_so_far
            seconds = _replay(bootstrap, csv, run_id, events, rate)
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
        say(f"end to end: backlog of {throughput_events:,} events, then a bridge drains it")
        backlog_seconds = _replay(bootstrap, csv, "drain", throughput_events, 0)
        ingest = stack.start_service("ingest", *ingest_args, env=creds.env("ingest"))
        ingest.wait_serving(120)
        scored_so_far += throughput_events
        _wait_scored(bootstrap, scored_so_far, ingest, 600, "backlog drain")
        say("end to end: reading timestamps back from Kafka")
        scored = _timestamps(bootstrap, names.TRANSACTIONS_SCORED, _scored_id)
        produced = _timestamps(bootstrap, names.TRANSACTIONS, _transaction_id)
    live = _throughput(scored, "live", throughput_events)
    live["replay_rate_0_tx_per_s"] = throughput_events / live_seconds
    # Scores cannot come out faster than the replayer writes events in: close to its rate, the
    # figure is the producer's bound, not the pipeline's.
    live["bounded_by_replay"] = live["tx_per_s"] >= 0.9 * live["replay_rate_0_tx_per_s"]
    live["how"] = (
        "`fraudstream replay --rate 0` into the running bridge; first to last Kafka timestamp "
        "of the events' scores on `transactions.scored`"
    )
    drain = _throughput(scored, "drain", throughput_events)
    drain["replay_rate_0_tx_per_s"] = throughput_events / backlog_seconds
    drain["how"] = (
        "events written while no bridge runs, then one starts and catches up; first to last "
        "Kafka timestamp of their scores"
    )
    latency = _latency(produced, scored, "lat")
    latency["offered_rate"] = offered_rate
    latency["how"] = (
        "per event id: Kafka timestamp on `transactions.scored` minus Kafka timestamp on "
        "`transactions` (both CreateTime, same clock)"
    )
    return {
        "processes": "1 Kafka broker (KRaft), 1 ingest bridge, 1 scorer; feedback not attached",
        "live_replay": live,
        "backlog_drain": drain,
        "latency_at_offered_rate": latency,
    }
