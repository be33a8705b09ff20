"""What numbers the models can score and learn from: finite features in the pipeline's range."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from fraudstream.model.features import FEATURE_NAMES

logger = logging.getLogger(__name__)

# Every feature compute_features makes is a log of a float64 (log1p of the largest one is
# about 709.8), a clipped ratio, a flag or a sine, so a finite feature vector never leaves
# +-FEATURE_LIMIT. A value beyond it was not made by this pipeline, and the classifier's
# scaler would blow it up far past anything it was fitted on.
FEATURE_LIMIT = 1000.0


def unscorable_rows(features: np.ndarray) -> dict[int, tuple[str, str]]:
    """Row -> ("", why) for feature rows that cannot be scored; {} for a clean batch.

    A row is unscorable when a computed feature is NaN, infinite or beyond FEATURE_LIMIT:
    finite raw values near the float64 maximum (amount 1e308, balances +-1e308) overflow in
    the balance arithmetic. The message names the features and says what to check.
    """
    bad = ~np.isfinite(features) | (np.abs(features) > FEATURE_LIMIT)
    problems: dict[int, tuple[str, str]] = {}
    for row in np.flatnonzero(bad.any(axis=1)).tolist():
        names = ", ".join(FEATURE_NAMES[c] for c in np.flatnonzero(bad[row]).tolist())
        # No one Transaction field is at fault (ItemError.field stays empty).
        problems[row] = (
            "",
            f"computed features ({names}) are not finite numbers: the amount and balances are "
            "too large to score (values near the float64 limit overflow); check the "
            "transaction's amount and balances",
        )
    return problems


def unlearnable_input(values: Sequence[float], names: Sequence[str]) -> str | None:
    """Why a row of classifier inputs (features, then 0..1 detector scores) cannot be learned
    from, as a metric reason label: "dimensions", "non_finite" or "out_of_range"; None if fine.
    """
    row = np.asarray(values, dtype=np.float64)
    if row.shape != (len(names),):
        return "dimensions"
    if not np.isfinite(row).all():
        return "non_finite"
    is_feature = np.fromiter((name in FEATURE_NAMES for name in names), bool, len(names))
    if (np.abs(row[is_feature]) > FEATURE_LIMIT).any():
        return "out_of_range"
    scores = row[~is_feature]
    if ((scores < 0.0) | (scores > 1.0)).any():
        return "out_of_range"
    return None
