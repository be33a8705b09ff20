"""What other packages (the CLI) use of training: read PaySim CSVs, simulate PaySim data."""

from __future__ import annotations

from fraudstream.training.csvio import read_paysim_chunks
from fraudstream.training.simulate import SimulationConfig, SimulationSummary, simulate

__all__ = ["SimulationConfig", "SimulationSummary", "read_paysim_chunks", "simulate"]
