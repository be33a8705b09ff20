"""The `latency` section: Score one transaction against one scorer process, and nothing else.

The `scorer` section measures the same calls between its StreamScores trials and its baseline;
this one runs them alone (seconds, not minutes), for comparing changes to the Score path. It is
not in the default sections: `fraudstream bench --sections latency`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fraudstream.cli.bench import scorer as scorer_client
from fraudstream.cli.bench.machine import load_average, process_cpu_seconds
from fraudstream.cli.bench.report import figure
from fraudstream.cli.bench.scorer import UNARY_WARMUP_CALLS
from fraudstream.cli.bench.sections import TARGET_SCORE_P99_MS, Sizes
from fraudstream.cli.bench.workload import say
from fraudstream.cli.stack import ServiceHandle
from fraudstream.common.transport import PLAINTEXT, Transport
from fraudstream.model.compiled import AUTO, engine_choice
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

# What the scorer's loader logs once the compiled forest serves, or once it cannot.
_SETTLED_LINES = ("isolation forest now scored by", "isolation forest not compiled")
_SETTLE_SECONDS = 60.0
_WHAT = "Score, one transaction, sequential calls (latency section)"


def latency_section(
    scorer: ServiceHandle,
    transactions: list[Transaction],
    sizes: Sizes,
    *,
    transport: Transport = PLAINTEXT,
) -> dict[str, Any]:
    """Score latency (p50/p90/p99 of `sizes.unary_calls` sequential calls) and the scorer's
    CPU time per call, with the load average around it (the p99 follows the machine's load).

    Timed once the scorer says its forest engine is settled: on auto it serves with the numpy
    forest first and swaps the compiled one in a moment later (loader.py).
    """
    settled = _forest_settled(scorer, _SETTLE_SECONDS)
    say(f"latency: Score, {sizes.unary_calls:,} sequential calls of one transaction")
    pid = scorer.process.pid
    before, cpu = load_average(), process_cpu_seconds(pid)
    unary = scorer_client.unary_latency(
        scorer.address, transactions, sizes.unary_calls, sizes.budget_seconds, transport=transport
    )
    cpu = process_cpu_seconds(pid) - cpu
    unary.pop("risks")
    latency = unary["latency"]
    say(f"latency: Score p50 {latency['p50_ms']:.3f} ms, p99 {latency['p99_ms']:.3f} ms")
    return {
        "score_unary": unary,
        # The scorer's CPU time also covers the warm-up calls.
        "scorer_cpu_us_per_call": cpu / (latency["samples"] + UNARY_WARMUP_CALLS) * 1e6,
        "load_average": {"before": before, "after": load_average()},
        "forest_engine_settled": settled,
        "figures": {
            "latency.score_p50_ms": figure(latency["p50_ms"], "ms", _WHAT, higher_is_better=False),
            "latency.score_p99_ms": figure(
                latency["p99_ms"], "ms", _WHAT, higher_is_better=False, target=TARGET_SCORE_P99_MS
            ),
        },
    }


def _forest_settled(scorer: ServiceHandle, timeout: float) -> bool:
    """Wait until the scorer's log says which forest engine serves for good (False: not seen).
    Only auto swaps engines after SERVING; the scorer inherits the bench's environment."""
    if engine_choice() != AUTO:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(line in scorer.log_tail(200) for line in _SETTLED_LINES):
            return True
        time.sleep(0.2)
    logger.warning("the scorer did not say its forest engine settled; timing it anyway")
    return False
