"""The soak's event latency to the millisecond: each event's Kafka timestamp on `transactions`
against its score's on `transactions.scored`, read back after the run and split by minute.

The bridge's histogram (`ingest_event_latency_seconds`) says the same thing in buckets: at a
p99 near 40 ms a bucket spans 35-50 ms, too coarse to tell a 20% change from none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from confluent_kafka import Message

from fraudstream.cli.kafka.readback import read_back, scored_id, transaction_id
from fraudstream.common import names

_MINUTE_MS = 60_000
WORST_SECONDS = 10  # the seconds after warm-up with the slowest event, listed in the report


def first_stamps(
    bootstrap: str,
    topic: str,
    since_ms: int,
    prefix: str,
    event_id: Callable[[Message], str],
    say: Callable[[str], None] = lambda _line: None,
) -> dict[str, int]:
    """The first Kafka timestamp (ms) of every event whose id starts with `prefix`, among the
    messages of `topic` written from `since_ms` on (earlier ones are not read)."""
    found: dict[str, int] = {}
    for message in read_back(bootstrap, topic, since_ms, say):
        key = event_id(message)
        if key.startswith(prefix) and key not in found:
            found[key] = message.timestamp()[1]
    return found


def read_both(
    bootstrap: str, since_ms: int, prefix: str, say: Callable[[str], None]
) -> tuple[dict[str, int], dict[str, int]]:
    """Produced and scored timestamps of the run's events (ids starting with `prefix`)."""
    produced = first_stamps(bootstrap, names.TRANSACTIONS, since_ms, prefix, transaction_id, say)
    scored = first_stamps(bootstrap, names.TRANSACTIONS_SCORED, since_ms, prefix, scored_id, say)
    return produced, scored


def by_minute(
    produced: dict[str, int], scored: dict[str, int], began_ms: int, warmup_s: float
) -> dict[str, Any]:
    """p50, p99 and max latency (s) per minute of production since `began_ms`, p99 of all events
    produced after `warmup_s`, and the events produced but never scored."""
    both = [(t, scored[k] - t) for k, t in produced.items() if k in scored]
    if not both:
        return {"events": 0, "unscored": len(produced), "by_minute": []}
    stamps, delays = (np.asarray(column, dtype=np.int64) for column in zip(*both, strict=True))
    minute = (stamps - began_ms) // _MINUTE_MS
    minutes = []
    for index in np.unique(minute):
        inside = delays[minute == index] / 1000.0
        p50, p99 = np.percentile(inside, [50, 99])
        minutes.append(
            {
                "minute": int(index) + 1,
                "events": int(inside.size),
                "p50_s": round(float(p50), 4),
                "p99_s": round(float(p99), 4),
                "max_s": round(float(inside.max()), 4),
            }
        )
    settled = stamps >= began_ms + warmup_s * 1000
    after = delays[settled]
    second = (stamps[settled] - began_ms) // 1000
    return {
        "events": int(delays.size),
        "p99_s_after_warmup": round(float(np.percentile(after, 99)) / 1000, 4)
        if after.size
        else None,
        "unscored": len(produced) - int(delays.size),
        "resolution_ms": 1,
        "worst_seconds": worst_seconds(second, after),
        "by_second": by_second(second, after),
        "by_minute": minutes,
    }


def per_second(
    second: np.ndarray, delays_ms: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each second that has events: the second, its events, their p99 (numpy's default linear
    interpolation, as per minute) and their maximum, in ms; one sort, no loop per second."""
    order = np.lexsort((delays_ms, second))
    ranked, delays = second[order], delays_ms[order].astype(np.float64)
    seconds, starts, counts = np.unique(ranked, return_index=True, return_counts=True)
    rank = (counts - 1) * 0.99
    below = np.floor(rank).astype(np.int64)
    above = np.minimum(below + 1, counts - 1)
    low, high = delays[starts + below], delays[starts + above]
    p99 = low + (rank - below) * (high - low)
    return seconds, counts, p99, delays[starts + counts - 1]


def by_second(second: np.ndarray, delays_ms: np.ndarray) -> dict[str, list[int]]:
    """Every second after warm-up (of production, since the run began): p99 and maximum (ms),
    to see whether a minute's p99 moved on one spell of a few seconds or all through it."""
    seconds, counts, p99, slowest = per_second(second, delays_ms)
    return {
        "second": seconds.tolist(),
        "events": counts.tolist(),
        "p99_ms": np.round(p99).astype(np.int64).tolist(),
        "max_ms": slowest.astype(np.int64).tolist(),
    }


def worst_seconds(
    second: np.ndarray, delays_ms: np.ndarray, count: int = WORST_SECONDS
) -> list[dict[str, Any]]:
    """The `count` seconds (of production, since the run began) whose slowest event took
    longest, slowest first: when they were, to lay beside the samples' CPU and I/O stalls, the
    collector's pauses and the services' logs."""
    if not second.size:
        return []
    seconds, counts, p99, slowest = per_second(second, delays_ms)
    return [
        {
            "second": int(seconds[i]),
            "events": int(counts[i]),
            "max_s": round(float(slowest[i]) / 1000, 4),
            "p99_s": round(float(p99[i]) / 1000, 4),
        }
        for i in np.argsort(-slowest, kind="stable")[:count]
    ]
