"""What numbers the models can score and learn from: finite features in the pipeline's range."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from fraudstream.model.accounts import ACCOUNT_FEATURES
from fraudstream.model.features import FEATURE_NAMES

logger = logging.getLogger(__name__)

# Every feature compute_features makes is a log of a float64 (log1p of the largest one is
# about 709.8), a clipped ratio, a flag or a sine, so a finite feature vector never leaves
# +-FEATURE_LIMIT. A value beyond it was not made by this pipeline, and the classifier's
# scaler would blow it up far past anything it was fitted on.
FEATURE_LIMIT = 1000.0


# The range of each account feature (AccountFeature.bounds), by name.
_ACCOUNT_BOUNDS = {f.name: f.bounds for f in ACCOUNT_FEATURES.features}


def feature_limits(names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest servable value of each named feature: +-FEATURE_LIMIT for the
    transaction features, the definition's range for an account feature. Read-only arrays,
    made once per list of names (every scored batch asks)."""
    return _limits(tuple(names))


@lru_cache(maxsize=64)
def _limits(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    bounds = [_ACCOUNT_BOUNDS.get(name, (-FEATURE_LIMIT, FEATURE_LIMIT)) for name in names]
    limits = np.asarray(bounds, dtype=np.float64).reshape(len(names), 2)
    low, high = limits[:, 0].copy(), limits[:, 1].copy()
    low.setflags(write=False)
    high.setflags(write=False)
    return low, high


def unscorable_rows(
    features: np.ndarray, names: Sequence[str] = FEATURE_NAMES
) -> dict[int, tuple[str, str]]:
    """Row -> ("", why) for feature rows (columns: `names`) that cannot be scored; {} for a
    clean batch.

    A row is unscorable when a computed feature is NaN, infinite or beyond its limit
    (FEATURE_LIMIT; an account feature's own range):
    finite raw values near the float64 maximum (amount 1e308, balances +-1e308) overflow in
    the balance arithmetic. The message names the features and says what to check.
    """
    if features.size == 0:
        return {}
    low, high = feature_limits(names)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(features) | (features < low) | (features > high)
    problems: dict[int, tuple[str, str]] = {}
    for row in np.flatnonzero(bad.any(axis=1)).tolist():
        named = ", ".join(names[c] for c in np.flatnonzero(bad[row]).tolist())
        # No one Transaction field is at fault (ItemError.field stays empty).
        problems[row] = (
            "",
            f"computed features ({named}) are not finite numbers: the amount and balances are "
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
    is_feature = np.fromiter(
        (name in FEATURE_NAMES or name in _ACCOUNT_BOUNDS for name in names), bool, len(names)
    )
    feature_names = [name for name, f in zip(names, is_feature.tolist(), strict=True) if f]
    low, high = feature_limits(feature_names)
    features = row[is_feature]
    if ((features < low) | (features > high)).any():
        return "out_of_range"
    scores = row[~is_feature]
    if ((scores < 0.0) | (scores > 1.0)).any():
        return "out_of_range"
    return None
