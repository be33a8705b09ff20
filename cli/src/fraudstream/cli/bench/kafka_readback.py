"""Reading the end-to-end phases back from Kafka: offsets, timestamps, rates and latencies."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

import click
import numpy as np

from fraudstream.cli.bench.loadgen import latency_summary
from fraudstream.cli.bench.machine import process_cpu_seconds
from fraudstream.cli.kafka.readback import read_back
from fraudstream.cli.stack import ServiceHandle


def timestamps(
    bootstrap: str, topic: str, event_id: Callable[[Any], str | None]
) -> dict[str, list[int]]:
    """Kafka timestamps (ms) of every message of `topic`, by event id."""
    found: dict[str, list[int]] = {}
    for message in read_back(bootstrap, topic):
        key = event_id(message)
        if key is not None:
            found.setdefault(key, []).append(message.timestamp()[1])
    return found


def throughput(scored: dict[str, list[int]], run_id: str, events: int) -> dict[str, Any]:
    stamps = [min(t) for key, t in scored.items() if key.startswith(f"{run_id}-")]
    if len(stamps) < events:
        raise click.ClickException(f"only {len(stamps)} of {events} events were scored")
    seconds = (max(stamps) - min(stamps)) / 1000.0
    # The middle 80% of the scores: rid of the start (joins, rebalances) and the tail.
    p10, p90 = np.percentile(stamps, [10, 90])
    return {
        "events": len(stamps),
        "duplicates": sum(len(t) - 1 for k, t in scored.items() if k.startswith(f"{run_id}-")),
        "seconds_first_to_last_score": seconds,
        "tx_per_s": (len(stamps) - 1) / seconds,
        "tx_per_s_p10_p90": 0.8 * len(stamps) / max((p90 - p10) / 1000.0, 1e-3),
    }


def latency_per_event(
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


class CpuMeter:
    """CPU seconds each kind of process (ingest, scorer, the broker) uses from now on; with
    `children`, also the finished child processes of this one (the replay producer)."""

    def __init__(
        self,
        services: dict[str, list[ServiceHandle]],
        kafka_pid: int | None,
        children: bool = False,
        startup: dict[str, float] | None = None,
    ) -> None:
        self._pids = {kind: [s.process.pid for s in group] for kind, group in services.items()}
        if kafka_pid is not None:
            self._pids["kafka"] = [kafka_pid]
        self._children = children  # also what this process's finished children used
        self._start = self._read()
        for kind, seconds in (startup or {}).items():  # not part of the work measured
            self._start[kind] += seconds
        self._began = time.perf_counter()

    def _read(self) -> dict[str, float]:
        used = {kind: sum(map(process_cpu_seconds, pids)) for kind, pids in self._pids.items()}
        if self._children:
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            used["producer"] = usage.ru_utime + usage.ru_stime
        return used

    def per_transaction(self, transactions: int) -> dict[str, Any]:
        """Microseconds of CPU per transaction by kind, and CPU seconds, since creation."""
        seconds = time.perf_counter() - self._began
        used = {kind: max(v - self._start[kind], 0.0) for kind, v in self._read().items()}
        return {
            "transactions": transactions,
            "seconds": seconds,
            "us_per_tx": {k: v * 1e6 / max(transactions, 1) for k, v in used.items()},
            # Over `seconds`, which includes the bridges' start: divide by the phase's own
            # duration for the cores it kept busy.
            "cpu_seconds": used,
            "processes": {k: len(v) for k, v in self._pids.items()}
            | ({"producer": 1} if self._children else {}),
        }
