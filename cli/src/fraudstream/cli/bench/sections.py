"""The serving sections (scorer, MLServer peer) and their figures, baseline in the same run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.cli.bench import scorer as scorer_client
from fraudstream.cli.bench.baseline import run_baseline
from fraudstream.cli.bench.peer import run_mlserver
from fraudstream.cli.bench.report import figure
from fraudstream.cli.bench.scaling import parallel_throughput
from fraudstream.cli.bench.workload import say
from fraudstream.common.transport import PLAINTEXT, Transport
from fraudstream.model.bundle import load_bundle
from fraudstream.model.features import features_from_transactions
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

# Targets on these 2 cores: issue 4's ratio to per-event scikit-learn, issue 15's others.
TARGET_STREAM_TX_PER_S = 150_000.0
TARGET_STREAM_VS_BASELINE = 300.0
TARGET_SCORE_P99_MS = 1.0
_BASELINE = "per-event scikit-learn (features + IF + AE + classifier, one row per call)"


@dataclass(frozen=True)
class Sizes:
    """How much each section does (bounded in count and in seconds)."""

    stream_transactions: int
    stream_trials: int
    unary_calls: int
    baseline_events: int
    peer_one_row_calls: int
    peer_requests: int
    endtoend_throughput_events: int
    endtoend_latency_events: int
    offered_rate: float
    budget_seconds: float
    batch_size: int = 512
    in_flight: int = 4
    peer_rows_per_request: int = 64
    peer_in_flight: int = 4
    scorers: int = 2  # scorer processes of the scaling figure (and of the 2-bridge drain)
    inprocess_repeats: int = 3
    inprocess_min_seconds: float = 0.25

    @classmethod
    def choose(cls, quick: bool) -> Sizes:
        """Small counts for CI (`--quick`), or the full run."""
        if quick:
            return cls(
                20_480, 2, 300, 150, 200, 150, 20_000, 20_000, 10_000.0, 10.0,
                inprocess_repeats=1, inprocess_min_seconds=0.1,
            )  # fmt: skip
        return cls(307_200, 3, 3_000, 2_000, 2_000, 800, 200_000, 150_000, 10_000.0, 30.0)


def scorer_section(
    addresses: list[str],
    models: Path,
    transactions: list[Transaction],
    sizes: Sizes,
    pids: list[int | None],
    *,
    transport: Transport = PLAINTEXT,
) -> dict[str, Any]:
    """StreamScores throughput of one and of all `addresses` (scorer processes) at once, and
    Score latency, against the per-event scikit-learn baseline."""
    address = addresses[0]
    streams = []
    for count in sorted({1, len(addresses)}):
        say(
            f"scorer: StreamScores to {count} scorer(s), {sizes.stream_trials} x "
            f"{sizes.stream_transactions:,} tx each in batches of {sizes.batch_size}, "
            f"{sizes.in_flight} in flight"
        )
        streams.append(
            parallel_throughput(
                addresses[:count],
                transactions,
                sizes.batch_size,
                sizes.in_flight,
                sizes.stream_transactions,
                sizes.stream_trials,
                pids[:count],
                transport=transport,
            )
        )
        say(f"scorer: {count} scorer(s) {streams[-1]['tx_per_s']:,.0f} tx/s")
    stream, scaled = streams[0], streams[-1]
    say(f"scorer: Score latency, {sizes.unary_calls:,} sequential calls")
    unary = scorer_client.unary_latency(
        address, transactions, sizes.unary_calls, sizes.budget_seconds, transport=transport
    )
    say(
        f"scorer: Score p99 {unary['latency']['p99_ms']:.2f} ms; baseline, "
        f"{sizes.baseline_events:,} events one at a time"
    )
    baseline = run_baseline(models, transactions, sizes.baseline_events, sizes.budget_seconds)
    say(
        f"scorer: baseline {baseline['tx_per_s']:,.0f} tx/s, p99 "
        f"{baseline['latency']['p99_ms']:.2f} ms"
    )
    served, computed = unary.pop("risks"), baseline.pop("risks")
    compared = [
        abs(served[tx.event_id] - risk)
        for tx, risk in zip(transactions, computed, strict=False)
        if tx.event_id in served
    ]
    base_rate, base_p50 = baseline["tx_per_s"], baseline["latency"]["p50_ms"]
    base_p99 = baseline["latency"]["p99_ms"]
    served = max(streams, key=lambda run: run["tx_per_s"])
    return {
        "stream_scores": stream,
        "stream_scores_all_scorers": scaled,
        "stream_scores_served_best": {"scorers": served["scorers"], "tx_per_s": served["tx_per_s"]},
        "score_unary": unary,
        "baseline_per_event_sklearn": baseline,
        "agreement": {
            "events_compared": len(compared),
            "max_abs_risk_difference": max(compared, default=None),
            "what": "scorer's risk vs the baseline's scikit-learn risk for the same events",
        },
        "figures": {
            "scorer.stream_tx_per_s": figure(
                stream["tx_per_s"],
                "tx/s",
                "StreamScores, one scorer process, batches of 512, all three detectors",
                base_rate,
                _BASELINE,
            ),
            f"scorer.stream_{len(addresses)}_scorers_tx_per_s": figure(
                scaled["tx_per_s"],
                "tx/s",
                f"StreamScores, {len(addresses)} scorer processes at once, batches of 512",
                stream["tx_per_s"],
                "one scorer process, same run",
            ),
            "scorer.stream_served_tx_per_s": figure(
                served["tx_per_s"],
                "tx/s",
                f"StreamScores on these cores, best of 1 and {len(addresses)} scorer processes "
                f"({served['scorers']} here)",
                target=TARGET_STREAM_TX_PER_S,
            ),
            "scorer.stream_vs_baseline_ratio": figure(
                stream["tx_per_s"] / base_rate,
                "x",
                "StreamScores throughput / baseline",
                target=TARGET_STREAM_VS_BASELINE,
            ),
            "scorer.score_p50_ms": figure(
                unary["latency"]["p50_ms"],
                "ms",
                "Score, one transaction, sequential calls",
                base_p50,
                _BASELINE,
                higher_is_better=False,
            ),
            "scorer.score_p99_ms": figure(
                unary["latency"]["p99_ms"],
                "ms",
                "Score, one transaction, sequential calls",
                base_p99,
                _BASELINE,
                higher_is_better=False,
                target=TARGET_SCORE_P99_MS,
            ),
            "scorer.baseline_tx_per_s": figure(base_rate, "tx/s", _BASELINE),
            "scorer.baseline_p99_ms": figure(base_p99, "ms", _BASELINE, higher_is_better=False),
        },
    }


def _forest_rows(models: Path, transactions: list[Transaction]) -> tuple[np.ndarray, Any]:
    """The Isolation Forest's input columns of each transaction, and the forest itself."""
    bundle = load_bundle(models)
    spec = bundle.manifest["detectors"]["isolation_forest"]
    names = list(bundle.manifest["feature_names"])
    columns = [names.index(n) for n in spec["inputs"]]
    features = features_from_transactions(transactions)
    return np.ascontiguousarray(features[:, columns]), bundle.artifacts[spec["artifact"]]


def mlserver_section(
    address: str,
    models: Path,
    transactions: list[Transaction],
    sizes: Sizes,
    venv: Path,
    workdir: Path,
    *,
    transport: Transport = PLAINTEXT,
) -> dict[str, Any]:
    """MLServer serving the IF vs the fraudstream scorer (full ensemble) on the same rows."""
    rows, forest = _forest_rows(models, transactions)
    plan = {
        "one_row_calls": sizes.peer_one_row_calls,
        "rows_per_request": sizes.peer_rows_per_request,
        "requests": sizes.peer_requests,
        "in_flight": sizes.peer_in_flight,
        "budget_seconds": sizes.budget_seconds,
        "ready_timeout": 60,
    }
    peer = run_mlserver(venv, workdir, models, rows, plan)
    served = np.asarray(peer.pop("scores"))
    difference = float(np.max(np.abs(served - forest.score_samples(rows[: served.size]))))
    say(
        f"mlserver: one row p99 {peer['one_row']['p99_ms']:.2f} ms, "
        f"{peer['batched']['rows_per_s']:,.0f} rows/s; now fraudstream on the same rows"
    )
    ours_one = scorer_client.unary_latency(
        address, transactions, sizes.peer_one_row_calls, sizes.budget_seconds, transport=transport
    )
    ours_one.pop("risks")
    ours_batched = scorer_client.rows_throughput(
        address,
        transactions,
        sizes.peer_rows_per_request,
        sizes.peer_requests,
        sizes.peer_in_flight,
        sizes.budget_seconds,
        transport=transport,
    )
    peer_what = "MLServer 1.7 V2 gRPC, IsolationForest.score_samples only"
    ours_what = "fraudstream Score (unary): features + IF + AE + classifier + reasons"
    return {
        "mlserver": peer,
        "fraudstream_same_rows": {"one_row": ours_one["latency"], "batched": ours_batched},
        "plan": plan,
        "agreement": {
            "rows_compared": int(served.size),
            "max_abs_score_samples_difference": difference,
            "what": "MLServer's scores vs the bundle's IsolationForest.score_samples in-process",
        },
        "note": (
            "same transactions, same Isolation Forest artifact, same client timing code "
            "(loadgen.py) and concurrency; MLServer receives the IF's 3 input columns, "
            "fraudstream receives raw transactions and does the whole ensemble"
        ),
        "figures": {
            "mlserver.one_row_p99_ms": figure(
                peer["one_row"]["p99_ms"],
                "ms",
                f"{peer_what}, one row per call",
                higher_is_better=False,
            ),
            "mlserver.batched_rows_per_s": figure(
                peer["batched"]["rows_per_s"],
                "rows/s",
                f"{peer_what}, {sizes.peer_rows_per_request} rows per request",
            ),
            "mlserver.fraudstream_one_row_p99_ms": figure(
                ours_one["latency"]["p99_ms"],
                "ms",
                f"{ours_what}, one transaction per call",
                peer["one_row"]["p99_ms"],
                f"{peer_what}, one row",
                higher_is_better=False,
            ),
            "mlserver.fraudstream_batched_rows_per_s": figure(
                ours_batched["rows_per_s"],
                "rows/s",
                f"{ours_what}, {sizes.peer_rows_per_request} transactions per request",
                peer["batched"]["rows_per_s"],
                f"{peer_what}, same rows per request",
            ),
        },
    }
