"""The account paths' cost: ingest with and without its embedded state, and the Flink job.

    python -m fraudstream.cli.bench.accounts --models models --input data.csv --events 100000 \
        [--flink] --out reports/accounts_paths.json
    python -m fraudstream.cli.bench.accounts --input data.csv --flink-only   # the Flink job alone

One broker, one scorer (the given bundle), a backlog of `--events` transactions (JSON values,
so the Flink job reads them too). Then, for each mode in turn (off, embedded, off, embedded),
a fresh ingest bridge in its own consumer group drains the backlog into its own scored topic:
throughput is first to last Kafka timestamp of its scores, and its CPU time is read from
/proc. With `--flink`, the Flink job then enriches the same backlog (first to last Kafka
timestamp on `transactions.enriched`). The bundle is the same for both modes, so the
difference is the bridge's own work: the state, the features on each message, larger requests.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from fraudstream.cli.bench.workload import say
from fraudstream.cli.demo.credentials import DemoCredentials
from fraudstream.cli.kafka.admin import ensure_topics, list_topics
from fraudstream.cli.replay.producer import ReplayConfig, replay
from fraudstream.cli.stack import Stack
from fraudstream.common.codec import FORMATS
from fraudstream.common.kafka import kafka_config
from fraudstream.common.names import TRANSACTIONS, TRANSACTIONS_ENRICHED

_MODES = ("off", "embedded", "off", "embedded")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc; clock ticks to seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drain(
    bootstrap: str, topic: str, expected: int, timeout: float, idle: float = 60.0
) -> dict[str, Any]:
    """Read `topic` until `expected` messages came (or none for `idle` s once some did);
    their count and Kafka timestamp span."""
    consumer = Consumer(
        kafka_config(
            bootstrap,
            {
                "group.id": f"accounts-bench-{secrets.token_hex(4)}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            },
        )
    )
    consumer.subscribe([topic])
    count, first, last = 0, None, None
    deadline = time.monotonic() + timeout
    latest = time.monotonic()
    try:
        while count < expected and time.monotonic() < deadline:
            if count and time.monotonic() - latest > idle:
                break  # the Flink job holds the last step back until later events arrive
            for message in consumer.consume(10_000, 0.5):
                if message.error() is not None:
                    continue
                latest = time.monotonic()
                stamp = message.timestamp()[1]
                first = stamp if first is None else min(first, stamp)
                last = stamp if last is None else max(last, stamp)
                count += 1
    finally:
        consumer.close()
    seconds = (last - first) / 1000.0 if first is not None and last is not None else 0.0
    rate = count / seconds if seconds > 0 else None
    return {"messages": count, "seconds": round(seconds, 2), "tx_per_s": rate}


def _bridge(
    stack: Stack, creds: DemoCredentials, bootstrap: str, scorer: str, mode: str, run: int,
    events: int,
) -> dict[str, Any]:  # fmt: skip
    name = f"{mode}-{run}"
    topics = {f"scored-{name}": 1, f"alerts-{name}": 1, f"dlq-{name}": 1}
    ensure_topics(bootstrap, topics)
    ingest = stack.start_service(
        "ingest",
        *("--kafka-bootstrap", bootstrap, "--scorer-addr", scorer, "--feedback-addr", ""),
        *("--group-id", f"bench-{name}", "--scored-topic", f"scored-{name}"),
        *("--alerts-topic", f"alerts-{name}", "--dlq-topic", f"dlq-{name}"),
        *("--account-features", mode, "--data-dir", str(stack.workdir / f"var-{name}")),
        env=creds.env("ingest"),
    )
    ingest.wait_serving(120)
    cpu_before = _cpu_seconds(ingest.process.pid)
    result = _drain(bootstrap, f"scored-{name}", events, timeout=900)
    result["ingest_cpu_seconds"] = round(_cpu_seconds(ingest.process.pid) - cpu_before, 2)
    result["ingest_cpu_ms_per_1000_events"] = round(
        1e6 * result["ingest_cpu_seconds"] / max(result["messages"], 1), 2
    )
    ingest.stop(30)
    say(f"accounts bench: bridge {name}: {result}")
    return result


def _flink(workdir: Path, bootstrap: str, events: int) -> dict[str, Any]:
    from fraudstream.cli.flink import account_specs
    from fraudstream.cli.flink.job import FlinkJobConfig, LocalFlinkJob, default_parallelism
    from fraudstream.cli.flink.sql import KafkaTopics
    from fraudstream.cli.ports import free_port

    partitions = list_topics(bootstrap).get(TRANSACTIONS, 1)
    ensure_topics(bootstrap, {TRANSACTIONS_ENRICHED: partitions})
    parallelism = default_parallelism(partitions)
    job = LocalFlinkJob(
        FlinkJobConfig(
            data_dir=workdir / "flink",
            topics=KafkaTopics(bootstrap=bootstrap),
            rest_port=free_port(),
            parallelism=parallelism,
            metrics_port=0,
        )
    )
    job.runtime.ensure(lambda message: say(f"flink: {message}"))
    job.launch(account_specs())
    try:
        started = job.wait_running(timeout=300)
        result = _drain(bootstrap, TRANSACTIONS_ENRICHED, events, timeout=1800, idle=30)
    finally:
        job.stop(timeout=30)
    result.update(parallelism=parallelism, start_seconds=round(started, 1))
    say(f"accounts bench: flink: {result}")
    return result


def run(
    models: Path | None, csv: Path, events: int, flink: bool, workdir: Path, bridges: bool = True
) -> dict[str, Any]:
    """Every measurement of the module docstring, as one report (without `bridges`: no scorer
    and no bridge runs, only the Flink job on the backlog)."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    report: dict[str, Any] = {"events": events, "load_average_before": os.getloadavg()}
    with Stack(workdir) as stack:
        bootstrap = stack.start_kafka()
        if bridges:
            if models is None:
                raise SystemExit("--models is required unless --flink-only")
            creds = DemoCredentials.create(
                workdir / "auth", tls=False, analyst_token=secrets.token_urlsafe(16)
            )
            scorer = stack.start_service(
                "scorer", "--models", str(models.resolve()), "--learner-addr", "",
                env=creds.env("scorer"),
            )  # fmt: skip
            scorer.wait_serving(120)
        say(f"accounts bench: replaying {events:,} events (JSON) into {TRANSACTIONS}")
        replay(ReplayConfig(csv, bootstrap, 0.0, FORMATS["json"], "acc", events))
        report["partitions"] = list_topics(bootstrap).get(TRANSACTIONS)
        if bridges:
            runs = [
                _bridge(stack, creds, bootstrap, scorer.address, mode, i, events)
                for i, mode in enumerate(_MODES)
            ]
            report["bridges"] = [{"mode": m, **b} for m, b in zip(_MODES, runs, strict=True)]
        if flink:
            report["flink"] = _flink(workdir, bootstrap, events)
    report["load_average_after"] = os.getloadavg()
    if bridges:
        report["summary"] = _summary(report["bridges"])
    return report


def _summary(bridges: list[dict[str, Any]]) -> dict[str, Any]:
    def best(mode: str, key: str, pick: Any) -> float:
        return float(pick(b[key] for b in bridges if b["mode"] == mode and b[key] is not None))

    off, on = best("off", "tx_per_s", max), best("embedded", "tx_per_s", max)
    cpu_off = best("off", "ingest_cpu_ms_per_1000_events", min)
    cpu_on = best("embedded", "ingest_cpu_ms_per_1000_events", min)
    return {
        "throughput_off_tx_per_s": round(off, 1),
        "throughput_embedded_tx_per_s": round(on, 1),
        "throughput_cost": round(1.0 - on / off, 3),
        "ingest_cpu_ms_per_1000_off": cpu_off,
        "ingest_cpu_ms_per_1000_embedded": cpu_on,
        "ingest_cpu_cost": round(cpu_on / cpu_off - 1.0, 3),
        "how": "best of two runs per mode; cost = 1 - embedded/off throughput, and the ratio "
        "of ingest CPU per event",
    }


def main() -> None:
    """Parse the flags, run, write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--flink", action="store_true")
    parser.add_argument(
        "--flink-only",
        action="store_true",
        help="only the Flink job (no scorer, no bridges): replaces the flink entry of --out",
    )
    parser.add_argument("--workdir", type=Path, default=Path("var/bench-accounts"))
    parser.add_argument("--out", type=Path, default=Path("reports/accounts_paths.json"))
    args = parser.parse_args()
    report = run(
        args.models, args.input, args.events, args.flink or args.flink_only, args.workdir,
        bridges=not args.flink_only,
    )  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.flink_only:
        flink = report["flink"]
        flink["load_average"] = [report["load_average_before"], report["load_average_after"]]
        report = json.loads(args.out.read_text()) if args.out.is_file() else {}
        report["flink"] = flink
        print(json.dumps(flink, indent=2))
    else:
        print(json.dumps(report["summary"], indent=2))
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
