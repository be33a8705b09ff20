"""Training, validation and test periods of a dataset: whole steps in time order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TimeSplit:
    """Row masks of the training, validation and test periods, and their last steps."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    train_last_step: int
    validation_last_step: int


def time_split(step: np.ndarray, validation_share: float, test_share: float) -> TimeSplit:
    """Earlier steps train, later ones validate, the latest test: whole steps, never shuffled."""
    counts = np.bincount(step)
    share = np.cumsum(counts) / counts.sum()
    train_last = int(np.searchsorted(share, 1.0 - validation_share - test_share))
    validation_last = max(int(np.searchsorted(share, 1.0 - test_share)), train_last + 1)
    return TimeSplit(
        train=step <= train_last,
        validation=(step > train_last) & (step <= validation_last),
        test=step > validation_last,
        train_last_step=train_last,
        validation_last_step=validation_last,
    )
