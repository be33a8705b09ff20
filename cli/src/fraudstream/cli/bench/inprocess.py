"""In-process peer engines on the serving workload's rows: scikit-learn, ONNX Runtime, tl2cgen.

The peers score the same ensemble in the bench's own process, on one thread, from features
already computed (no gRPC, no protobuf): what a team embedding an engine in its own service
would get. tl2cgen can only express the Isolation Forest (trees); ONNX Runtime (skl2onnx) can
express the forest and also the scaler, the MLP and the linear model, but not the ensemble's
score maps, decision thresholds and reasons, and its tree ensemble works in float32. So both
run the forest, and the autoencoder and classifier are fraudstream's fused numpy code in both.
Timing is `fraudstream.model.enginebench.measure` (engines interleaved, worst and median).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fraudstream.cli.bench.report import figure
from fraudstream.cli.bench.workload import say
from fraudstream.model.bundle import load_bundle
from fraudstream.model.enginebench import measure
from fraudstream.model.features import features_from_transactions
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

BATCH_SIZES = (1, 512)
# Ensemble engines of enginebench that are peers (not fraudstream's own serving path).
PEERS = {
    "scikit-learn": "scikit-learn batch (IsolationForest, MLPRegressor, classifier)",
    "fused onnxruntime": "ONNX Runtime forest (skl2onnx) + numpy autoencoder and classifier",
    "fused tl2cgen": "tl2cgen compiled forest + numpy autoencoder and classifier",
}


def inprocess_section(
    models: Path, transactions: list[Transaction], repeats: int, min_seconds: float
) -> dict[str, Any]:
    """Rows/s of each in-process engine on the workload's features, per batch size."""
    bundle = load_bundle(models)
    rows = features_from_transactions(transactions)
    say(f"in-process: {len(PEERS)} ensemble engines, batches {BATCH_SIZES}, {repeats} repeats")
    result = measure(bundle, rows, BATCH_SIZES, repeats=repeats, min_seconds=min_seconds)
    ensembles = result["ensemble"]
    missing = sorted(set(PEERS) - set(ensembles))
    peers = {name: ensembles[name] for name in PEERS if name in ensembles}
    best = max(peers, key=lambda name: peers[name]["median_rows_per_second"]["512"])
    result["peers"] = {name: PEERS[name] for name in peers}
    result["not_measured"] = missing  # onnxruntime absent: `uv sync --group onnx`
    result["best_peer_512"] = best
    result["figures"] = {
        f"inprocess.{name.replace(' ', '_')}_rows_per_s": figure(
            peers[name]["median_rows_per_second"]["512"],
            "rows/s",
            f"{PEERS[name]}, 512 rows per call, one thread, median of {repeats}",
        )
        for name in peers
    }
    result["figures"]["inprocess.best_peer_rows_per_s"] = figure(
        peers[best]["median_rows_per_second"]["512"],
        "rows/s",
        f"best in-process peer: {PEERS[best]}, 512 rows per call",
    )
    return result
