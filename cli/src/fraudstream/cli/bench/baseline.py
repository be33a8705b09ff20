"""The original design's scoring: each event alone through the three scikit-learn models.

This is what a naive service does per Kafka message: compute the event's features, then call
IsolationForest.score_samples, the autoencoder's scaler and network, and the classifier's scaler
and predict_proba on one row each. It uses the bundle's raw scikit-learn artifacts and the shared
feature module, never the scorer's code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.cli.bench.loadgen import latency_summary
from fraudstream.model.bundle import load_bundle
from fraudstream.model.detectors import ScoreMap
from fraudstream.model.features import FEATURE_NAMES, features_from_transactions
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

# Floor of the reconstruction error before its log (as the bundle's autoencoder score defines it).
_ERROR_FLOOR = 1e-6


@dataclass(frozen=True)
class PerEventScorer:
    """The bundle's scikit-learn objects and the plain numbers that tie them together."""

    forest: Any
    forest_columns: list[int]
    forest_map: ScoreMap
    ae_scaler: Any
    ae_network: Any
    ae_columns: list[int]
    ae_map: ScoreMap
    classifier_scaler: Any
    classifier: Any

    @classmethod
    def from_bundle(cls, directory: Path) -> PerEventScorer:
        """Read the artifacts and the manifest's inputs and score maps."""
        bundle = load_bundle(directory)
        detectors = bundle.manifest["detectors"]
        names = list(bundle.manifest.get("feature_names", FEATURE_NAMES))

        def columns(detector: str) -> list[int]:
            return [names.index(n) for n in detectors[detector]["inputs"]]

        forest = detectors["isolation_forest"]
        autoencoder = detectors["autoencoder"]
        ae_parts = bundle.artifacts[autoencoder["artifact"]]
        classifier_parts = bundle.artifacts[detectors["classifier"]["artifact"]]
        return cls(
            forest=bundle.artifacts[forest["artifact"]],
            forest_columns=columns("isolation_forest"),
            forest_map=ScoreMap(**forest["score_map"]),
            ae_scaler=ae_parts["scaler"],
            ae_network=ae_parts["network"],
            ae_columns=columns("autoencoder"),
            ae_map=ScoreMap(**autoencoder["score_map"]),
            classifier_scaler=classifier_parts["scaler"],
            classifier=classifier_parts["model"],
        )

    def risk(self, transaction: Transaction) -> float:
        """One event's combined risk, the way a per-message service computes it."""
        features = features_from_transactions([transaction])
        forest_score = self.forest_map(-self.forest.score_samples(features[:, self.forest_columns]))
        z = self.ae_scaler.transform(features[:, self.ae_columns])
        error = np.mean((self.ae_network.predict(z) - z) ** 2, axis=1)
        ae_score = self.ae_map(np.log10(error + _ERROR_FLOOR))
        inputs = np.column_stack([features, forest_score, ae_score])
        probability = self.classifier.predict_proba(self.classifier_scaler.transform(inputs))
        return float(probability[0, 1])


def run_baseline(
    models: Path, transactions: Sequence[Transaction], events: int, budget_seconds: float
) -> dict[str, Any]:
    """Score up to `events` transactions one at a time; throughput and per-event latency."""
    scorer = PerEventScorer.from_bundle(models)
    for transaction in transactions[:20]:  # warm caches and lazy imports
        scorer.risk(transaction)
    timings: list[float] = []
    risks: list[float] = []
    deadline = time.perf_counter() + budget_seconds
    for i in range(events):
        transaction = transactions[i % len(transactions)]
        began = time.perf_counter()
        risks.append(scorer.risk(transaction))
        timings.append(time.perf_counter() - began)
        if len(timings) >= 50 and time.perf_counter() > deadline:
            break
    summary = latency_summary(timings)
    return {
        "what": (
            "per event, in this process: features, IsolationForest.score_samples, autoencoder "
            "scaler + MLPRegressor.predict, classifier scaler + predict_proba, one row each"
        ),
        "events": len(timings),
        "seconds": sum(timings),
        "tx_per_s": len(timings) / sum(timings),
        "latency": summary,
        "risks": risks,
    }
