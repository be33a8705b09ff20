"""What other packages (the CLI) use of training: read PaySim CSVs, simulate PaySim data, and
the pieces of training an offline experiment repeats (time split, metrics, pattern side files)."""

from __future__ import annotations

from fraudstream.training.csvio import read_paysim_chunks
from fraudstream.training.metrics import recall_at_fpr
from fraudstream.training.patterns import PATTERN_COLUMN, PATTERNS, patterns_path
from fraudstream.training.simulate import SimulationConfig, SimulationSummary, simulate
from fraudstream.training.train import TimeSplit, TrainConfig, time_split, train

__all__ = [
    "PATTERNS",
    "PATTERN_COLUMN",
    "SimulationConfig",
    "SimulationSummary",
    "TimeSplit",
    "TrainConfig",
    "patterns_path",
    "read_paysim_chunks",
    "recall_at_fpr",
    "simulate",
    "time_split",
    "train",
]
