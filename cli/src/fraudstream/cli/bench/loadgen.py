"""Client-side timing loops shared by every serving benchmark (also run inside MLServer's venv).

This module imports nothing from fraudstream, so the MLServer client (a script executed by the
MLServer virtual environment's Python) times its calls with exactly the same code as the
fraudstream client does.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

logger = logging.getLogger(__name__)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, linearly interpolated."""
    if not sorted_values:
        raise ValueError("no values")
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    weight = position - low
    return sorted_values[low] * (1.0 - weight) + sorted_values[high] * weight


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """Count, mean, p50, p90, p99 and max of per-call latencies, in milliseconds."""
    ordered = sorted(s * 1000.0 for s in seconds)
    return {
        "samples": len(ordered),
        "mean_ms": sum(ordered) / len(ordered),
        "p50_ms": percentile(ordered, 50),
        "p90_ms": percentile(ordered, 90),
        "p99_ms": percentile(ordered, 99),
        "max_ms": ordered[-1],
    }


def sequential_latency(
    call: Callable[[Any], object],
    payloads: Sequence[Any],
    calls: int,
    warmup: int,
    budget_seconds: float,
) -> dict[str, float]:
    """Time `calls` blocking calls one after another (cycling through `payloads`).

    Stops early when `budget_seconds` have passed; at least 20 calls are always timed.
    """
    for i in range(warmup):
        call(payloads[i % len(payloads)])
    timings: list[float] = []
    deadline = time.perf_counter() + budget_seconds
    for i in range(calls):
        payload = payloads[i % len(payloads)]
        began = time.perf_counter()
        call(payload)
        timings.append(time.perf_counter() - began)
        if len(timings) >= 20 and time.perf_counter() > deadline:
            break
    summary = latency_summary(timings)
    summary["calls_per_s"] = len(timings) / sum(timings)
    return summary


def concurrent_throughput(
    start_call: Callable[[Any, Callable[[int], None]], None],
    payloads: Sequence[Any],
    rows_per_payload: int,
    requests: int,
    in_flight: int,
    warmup: int,
    budget_seconds: float,
) -> dict[str, float]:
    """Rows per second with up to `in_flight` asynchronous requests outstanding.

    `start_call(payload, done)` starts one request and arranges for `done(rows_answered)` to be
    called when its reply arrives (from any thread). Stops issuing requests after
    `budget_seconds`; the ones in flight are still waited for and counted.
    """
    window = threading.Semaphore(in_flight)
    lock = threading.Lock()
    finished = threading.Event()
    answered = [0, 0]  # requests, rows
    issued = 0

    def done(rows: int) -> None:
        with lock:
            answered[0] += 1
            answered[1] += rows
            if answered[0] == issued_total[0]:
                finished.set()
        window.release()

    issued_total = [warmup]
    for i in range(warmup):
        window.acquire()
        start_call(payloads[i % len(payloads)], done)
    if warmup and not finished.wait(120.0):
        raise TimeoutError("the warm-up requests were not answered within 120 s")
    with lock:
        answered[:] = [0, 0]
        finished.clear()
        issued_total[0] = -1  # unknown until the loop ends
    began = time.perf_counter()
    deadline = began + budget_seconds
    while issued < requests and (issued < in_flight or time.perf_counter() < deadline):
        window.acquire()
        start_call(payloads[issued % len(payloads)], done)
        issued += 1
    with lock:
        issued_total[0] = issued
        if answered[0] == issued:
            finished.set()
    if not finished.wait(120.0):
        raise TimeoutError(f"only {answered[0]} of {issued} requests were answered")
    seconds = time.perf_counter() - began
    return {
        "requests": issued,
        "rows_per_request": rows_per_payload,
        "rows": answered[1],
        "in_flight": in_flight,
        "seconds": seconds,
        "rows_per_s": answered[1] / seconds,
        "requests_per_s": issued / seconds,
    }
