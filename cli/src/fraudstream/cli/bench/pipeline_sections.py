"""The pipeline sections (end to end through Kafka, offline training) and their figures."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fraudstream.cli.bench.endtoend import TARGET_P99_MS, TARGET_TX_PER_S, run_endtoend
from fraudstream.cli.bench.offline import TARGET_PEAK_GIB_FULL, TARGET_SECONDS_FULL, run_offline
from fraudstream.cli.bench.report import figure
from fraudstream.cli.bench.sections import Sizes
from fraudstream.model.bundle import read_manifest

logger = logging.getLogger(__name__)


def endtoend_section(workdir: Path, models: Path, csv: Path, sizes: Sizes) -> dict[str, Any]:
    """Broker + ingest + scorer: sustained events/s and latency at the offered rate."""
    result = run_endtoend(
        workdir,
        models,
        csv,
        sizes.endtoend_throughput_events,
        sizes.endtoend_latency_events,
        sizes.offered_rate,
    )
    latency = result["latency_at_offered_rate"]["latency"]
    rate = f"{sizes.offered_rate:,.0f} tx/s offered"
    live = result["live_replay"]
    bound = " (bounded by the replayer's own rate)" if live["bounded_by_replay"] else ""
    # The headline is the catch-up rate: a replayer in Python writing as fast as it can is
    # sometimes slower than the pipeline, and then the live figure measures the replayer.
    result["figures"] = {
        "endtoend.tx_per_s": figure(
            result["backlog_drain"]["tx_per_s"],
            "tx/s",
            "transactions -> transactions.scored, sustained over a backlog (pipeline capacity)",
            target=TARGET_TX_PER_S,
        ),
        "endtoend.drain_2x2_tx_per_s": figure(
            result["backlog_drain_2x2"]["tx_per_s_p10_p90"],
            "tx/s",
            "backlog drain, 2 bridges + 2 scorers, middle 80% of the scores (capacity check)",
            result["backlog_drain"]["tx_per_s_p10_p90"],
            "1 bridge + 1 scorer, same statistic, same run",
        ),
        "endtoend.live_replay_tx_per_s": figure(
            live["tx_per_s"],
            "tx/s",
            f"replay at rate 0 into the running bridge{bound}",
        ),
        "endtoend.p50_ms": figure(
            latency["p50_ms"], "ms", f"event latency at {rate}", higher_is_better=False
        ),
        "endtoend.p99_ms": figure(
            latency["p99_ms"],
            "ms",
            f"event latency at {rate}",
            higher_is_better=False,
            target=TARGET_P99_MS,
        ),
    }
    return result


def offline_section(workdir: Path, rows: int) -> dict[str, Any]:
    """simulate + features + train all, timed."""
    result = run_offline(workdir, rows)
    result["bundle_version"] = read_manifest(Path(result["models"]))["bundle_version"]
    # Issue 3's targets hold at the full PaySim size only.
    full = result["full_paysim_size"]
    result["figures"] = {
        "offline.total_seconds": figure(
            result["total_seconds"],
            "s",
            f"simulate + features + train all, {rows:,} rows",
            higher_is_better=False,
            target=TARGET_SECONDS_FULL if full else None,
        ),
        "offline.rows_per_s": figure(
            result["rows_per_s"], "rows/s", f"whole offline pipeline, {rows:,} rows"
        ),
        "offline.peak_rss_gib": figure(
            result["peak_rss_gib"],
            "GiB",
            "largest peak resident memory of the three steps",
            higher_is_better=False,
            target=TARGET_PEAK_GIB_FULL if full else None,
        ),
    }
    return result
