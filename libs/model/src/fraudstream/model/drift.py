"""Drift of what a model sees: PSI of risk distributions and a Page-Hinkley change detector."""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

# Proportion given to a bin that holds nothing, so an empty bin adds a large but finite term
# (the usual convention; without it a bin emptied by drift would make the PSI infinite).
PSI_FLOOR = 1e-4


def risk_histogram(risk: np.ndarray, bins: int) -> np.ndarray:
    """Counts of `risk` (0..1) in `bins` equal-width bins; 1.0 falls in the last bin and
    values outside 0..1 in the nearest end bin. Non-finite values are not counted."""
    values = np.asarray(risk, dtype=np.float64)
    if values.size == 1:  # one transaction (a Score call): plain floats, a fraction of the cost
        counts = np.zeros(bins, dtype=np.int64)
        value = float(values.reshape(-1)[0])
        if math.isfinite(value):
            counts[min(max(int(value * bins), 0), bins - 1)] = 1
        return counts
    values = values[np.isfinite(values)]
    index = np.clip((values * bins).astype(np.int64), 0, bins - 1)
    return np.bincount(index, minlength=bins)


def psi(expected: np.ndarray, actual: np.ndarray, floor: float = PSI_FLOOR) -> float:
    """Population stability index of `actual` against `expected` (counts over the same bins):
    sum over bins of (a - e) * ln(a / e) with a, e the bins' proportions (floored at `floor`).

    0 for identical distributions; below 0.1 is usually read as stable, above 0.2 as a shift.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape or e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("psi needs two non-empty histograms over the same bins")
    e = np.maximum(e / e.sum(), floor)
    a = np.maximum(a / a.sum(), floor)
    return float(np.sum((a - e) * np.log(a / e)))


class RiskDriftMonitor:
    """PSI of the risks of the most recent `window` transactions against a reference.

    The reference is given (e.g. the bundle's test scores) or, by default, the first `window`
    transactions observed. The window moves by blocks of `window / blocks` transactions, so
    the PSI is recomputed a few times per window and never per transaction. Thread-safe.
    """

    def __init__(
        self,
        window: int = 10_000,
        bins: int = 10,
        blocks: int = 10,
        reference: np.ndarray | None = None,
    ) -> None:
        if window < blocks or blocks < 1 or bins < 2:
            raise ValueError("need window >= blocks >= 1 and bins >= 2")
        self.bins = bins
        self._blocks: deque[np.ndarray] = deque(maxlen=blocks)
        self._block_size = window // blocks
        self._block = np.zeros(bins, dtype=np.int64)
        self._reference = None if reference is None else np.asarray(reference, dtype=np.int64)
        self._psi: float = math.nan
        self._lock = threading.Lock()

    @property
    def reference(self) -> np.ndarray | None:
        return self._reference

    def observe(self, risk: np.ndarray) -> float | None:
        """Count a batch of risks; returns the new PSI when it completed a block, else None."""
        values = np.asarray(risk, dtype=np.float64)
        values = values[np.isfinite(values)]
        measured = None
        with self._lock:
            while values.size:
                room = self._block_size - int(self._block.sum())
                self._block += risk_histogram(values[:room], self.bins)
                values = values[room:]
                if self._block.sum() >= self._block_size:
                    closed = self._close_block()
                    measured = closed if closed is not None else measured
        return measured

    def _close_block(self) -> float | None:
        self._blocks.append(self._block)
        self._block = np.zeros(self.bins, dtype=np.int64)
        if len(self._blocks) < (self._blocks.maxlen or 0):
            return None
        recent = np.sum(self._blocks, axis=0)
        if self._reference is None:
            self._reference = recent
            self._blocks.clear()
            logger.info("risk reference histogram set from the first window: %s", recent.tolist())
            return None
        self._psi = psi(self._reference, recent)
        return self._psi

    @property
    def value(self) -> float:
        """The latest PSI (NaN until a reference and a full recent window exist)."""
        return self._psi


@dataclass
class PageHinkley:
    """Page-Hinkley test for a change in the mean of a stream (Page 1954; as in River).

    For an increase it accumulates m_t = sum(x_i - mean_i - delta) and signals when
    m_t - min(m) exceeds `threshold`; for a decrease, the mirror image. `delta` is the
    change in mean tolerated, `threshold` trades detection delay for false alarms, and no
    change is signalled before `min_samples`. After a change it starts over on what follows.
    """

    # Defaults for a 0/1 stream such as "this alert was fraud" (precision): shifts of the mean
    # under 0.05 are tolerated; a 0.4 shift is seen after ~70 observations; a stationary
    # stream raises a false alarm about once in exp(2 * delta * threshold / variance) >= e^10.
    delta: float = 0.05
    threshold: float = 25.0
    min_samples: int = 30
    direction: str = "both"  # "up", "down" or "both"

    def __post_init__(self) -> None:
        if self.direction not in ("up", "down", "both"):
            raise ValueError(f"direction must be up, down or both, got {self.direction!r}")
        self.reset()

    def reset(self) -> None:
        self.samples = 0
        self.mean = 0.0
        self._up = self._up_min = 0.0
        self._down = self._down_min = 0.0

    @property
    def statistic(self) -> float:
        """The larger of the watched directions' m_t - min(m) (0 right after a reset)."""
        up = self._up - self._up_min if self.direction != "down" else 0.0
        down = self._down - self._down_min if self.direction != "up" else 0.0
        return max(up, down)

    def update(self, x: float) -> bool:
        """Add one observation; True when it completes a detected change (then reset)."""
        self.samples += 1
        self.mean += (x - self.mean) / self.samples
        self._up += x - self.mean - self.delta
        self._up_min = min(self._up_min, self._up)
        self._down += self.mean - x - self.delta
        self._down_min = min(self._down_min, self._down)
        if self.samples < self.min_samples or self.statistic <= self.threshold:
            return False
        self.reset()
        return True

    def update_many(self, values: np.ndarray) -> int:
        """Add observations in order; returns how many changes they completed."""
        return sum(self.update(float(x)) for x in np.asarray(values, dtype=np.float64))
