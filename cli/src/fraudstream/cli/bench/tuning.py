"""Ingest settings compared in one run: a bridge per setting, all on the same events at once.

    python -m fraudstream.cli.bench.tuning --models M --csv F.csv [--rate 10000 --events 60000]

One broker and one scorer; each configuration is a bridge in its own consumer group writing
its own scored topic, so every bridge sees the same events at the same moment under the same
machine load, and per-event latency (scored CreateTime minus transaction CreateTime) compares
the settings, not the minutes they ran in. Then each configuration drains a backlog alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fraudstream.cli.bench.endtoend import replay_events
from fraudstream.cli.bench.kafka_readback import (
    latency_per_event,
    throughput,
    timestamps,
)
from fraudstream.cli.bench.workload import say
from fraudstream.cli.demo.credentials import DemoCredentials
from fraudstream.cli.kafka.admin import ensure_topics
from fraudstream.cli.kafka.readback import messages_in, scored_id, transaction_id
from fraudstream.cli.stack import Stack
from fraudstream.common import names

# name -> ingest flags; "default" is what the settings' defaults give.
CONFIGURATIONS: dict[str, list[str]] = {
    "default": [],
    "wait 1 ms + linger 0": ["--batch-wait-ms", "1", "--producer-linger-ms", "0"],
    "wait 20 ms + linger 5": ["--batch-wait-ms", "20", "--producer-linger-ms", "5"],
    "in flight 16": ["--max-in-flight", "16"],
    "batch 256": ["--batch-size", "256"],
}


def _wait_for(bootstrap: str, topic: str, expected: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while messages_in(bootstrap, topic) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{topic}: fewer than {expected} scores after {timeout:.0f} s")
        time.sleep(0.5)


def compare(
    workdir: Path,
    models: Path,
    csv: Path,
    rate: float,
    events: int,
    rounds: int,
    chosen: Sequence[str],
) -> dict[str, Any]:
    """Latency of every configuration at `rate`, rounds interleaved; then each one's drain."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    topics = {
        name: (f"{names.TRANSACTIONS}.tune{i}", f"{names.TRANSACTIONS_SCORED}.tune{i}")
        for i, name in enumerate(chosen)
    }
    results: dict[str, Any] = {name: {"flags": CONFIGURATIONS[name]} for name in chosen}
    with Stack(workdir) as stack:
        bootstrap = stack.start_kafka()
        ensure_topics(bootstrap, {topic: 4 for pair in topics.values() for topic in pair})
        creds = DemoCredentials.create(workdir / "auth", tls=False, analyst_token="-")
        scorer = stack.start_service(
            *("scorer", "--models", str(models.resolve()), "--learner-addr", ""),
            env=creds.env("scorer"),
        )
        scorer.wait_serving(120)

        def bridge(name: str, group: str) -> Any:
            transactions, scored = topics[name]
            flags = ["--kafka-bootstrap", bootstrap, "--scorer-addr", scorer.address]
            flags += ["--feedback-addr", "", "--group-id", group]
            flags += ["--transactions-topic", transactions, "--scored-topic", scored]
            flags += ["--instance-name", f"{group}-{chosen.index(name)}", *CONFIGURATIONS[name]]
            started = stack.start_service("ingest", *flags, env=creds.env("ingest"))
            started.wait_serving(120)
            return started

        bridges = [bridge(name, "tune") for name in chosen]
        for round_ in range(rounds):
            for name, (transactions, scored) in topics.items():
                say(f"tuning round {round_ + 1}/{rounds}: {name}, {events:,} at {rate:,.0f} tx/s")
                replay_events(bootstrap, csv, f"r{round_}", events, rate, transactions)
                _wait_for(bootstrap, scored, (round_ + 1) * events)
        for running in bridges:
            running.stop(30)
        total = rounds * events
        for name, (transactions, scored) in topics.items():
            produced = timestamps(bootstrap, transactions, transaction_id)
            stamps = timestamps(bootstrap, scored, scored_id)
            delays = [
                latency_per_event(produced, stamps, f"r{r}")["latency"] for r in range(rounds)
            ]
            results[name]["latency_per_round"] = delays
            say(f"tuning: {name} drains its {total:,} events alone (a new group)")
            drained = bridge(name, "drain")
            _wait_for(bootstrap, scored, 2 * total)
            drained.stop(30)
            again = timestamps(bootstrap, scored, scored_id)
            # Its second score of each event; under one run id, as throughput() counts one.
            late = {f"drain-{key}": s[1:] for key, s in again.items() if len(s) > 1}
            results[name]["drain"] = throughput(late, "drain", total)
    return {"rate": rate, "events_per_round": events, "rounds": rounds, "configurations": results}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--events", type=int, default=20_000, help="per round and setting")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(".cache/bench/tuning"))
    parser.add_argument("--configurations", default=",".join(CONFIGURATIONS))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    chosen = [c.strip() for c in args.configurations.split(",") if c.strip()]
    result = compare(
        args.workdir, args.models, args.csv, args.rate, args.events, args.rounds, chosen
    )
    text = json.dumps(result, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n")
    for name, entry in result["configurations"].items():
        rounds = entry["latency_per_round"]
        p50 = "/".join(f"{r['p50_ms']:.0f}" for r in rounds)
        p99 = "/".join(f"{r['p99_ms']:.0f}" for r in rounds)
        drain = entry["drain"]
        print(
            f"{name:22s} p50 {p50} ms, p99 {p99} ms (per round); drain "
            f"{drain['tx_per_s']:,.0f} tx/s (middle 80%: {drain['tx_per_s_p10_p90']:,.0f})"
        )


if __name__ == "__main__":
    main()
