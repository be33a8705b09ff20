"""What other packages (the CLI) use of training: read PaySim CSVs, simulate PaySim data, and
the pieces of training an offline experiment repeats (time split, metrics, the model fits,
`train` itself)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fraudstream.training.csvio import read_paysim_chunks
from fraudstream.training.patterns import PATTERN_COLUMN, PATTERNS, patterns_path
from fraudstream.training.simulate import SimulationConfig, SimulationSummary, simulate

if TYPE_CHECKING:
    from fraudstream.training.fit import fit_autoencoder, fit_classifier, fit_isolation_forest
    from fraudstream.training.metrics import recall_at_fpr
    from fraudstream.training.split import TimeSplit, time_split
    from fraudstream.training.train import TrainConfig, train

# Loaded on first use: they bring scikit-learn, which reading and simulating do not need (the
# replay producer imports this module at start-up).
_LAZY = {
    "fit_autoencoder": "fraudstream.training.fit",
    "fit_classifier": "fraudstream.training.fit",
    "fit_isolation_forest": "fraudstream.training.fit",
    "recall_at_fpr": "fraudstream.training.metrics",
    "TimeSplit": "fraudstream.training.split",
    "TrainConfig": "fraudstream.training.train",
    "time_split": "fraudstream.training.split",
    "train": "fraudstream.training.train",
}

__all__ = [
    "PATTERNS",
    "PATTERN_COLUMN",
    "SimulationConfig",
    "SimulationSummary",
    "TimeSplit",
    "TrainConfig",
    "fit_autoencoder",
    "fit_classifier",
    "fit_isolation_forest",
    "patterns_path",
    "read_paysim_chunks",
    "recall_at_fpr",
    "simulate",
    "time_split",
    "train",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
