"""Vectorised random draws for the simulator: calibrated amounts, cents, account names."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraudstream.training.calibration import QUANTILE_PROBS

logger = logging.getLogger(__name__)

_PROBS = np.asarray(QUANTILE_PROBS, dtype=np.float64)
_FLOOR = 1e-9


def from_quantiles(rng: np.random.Generator, quantiles: Sequence[float], n: int) -> np.ndarray:
    """Draw n values with these quantiles (at QUANTILE_PROBS), log-linear in between."""
    logs = np.log(np.maximum(np.asarray(quantiles, dtype=np.float64), _FLOOR))
    return np.exp(np.interp(rng.random(n), _PROBS, logs))


def money(values: np.ndarray) -> np.ndarray:
    """Round to cents, as PaySim records every amount and balance."""
    return np.round(np.asarray(values, dtype=np.float64), 2)


def account_names(
    rng: np.random.Generator, prefix: str, n: int, merchant: np.ndarray | None = None
) -> pd.api.extensions.ExtensionArray:
    """n account names like PaySim's: `C` (customer) and a number, `M` where `merchant` is set."""
    numbers = pc.cast(pa.array(rng.integers(1_000, 2_147_483_647, n)), pa.string())
    names = pc.binary_join_element_wise(prefix, numbers, "")
    if merchant is not None:
        merchants = pc.binary_join_element_wise("M", numbers, "")
        names = pc.if_else(pa.array(merchant, type=pa.bool_()), merchants, names)
    return pd.arrays.ArrowStringArray(names)
