"""Per-account features: one definition, an offline (vectorised) path and an embedded state.

The definition is imported at once; the offline path (numpy, pandas) and the embedded state
load on first use, so a reader of the definition alone (the console) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from fraudstream.model.accounts.definition import (
    ACCOUNT_FEATURE_NAMES,
    ACCOUNT_FEATURES,
    AccountDefinition,
    AccountFeature,
)

_LAZY = {
    "ChunkedAccountFeatures": "offline",
    "account_features_from_frame": "offline",
    "compute_account_features": "offline",
    "AccountState": "state",
    "StateCounters": "state",
}

__all__ = [
    "ACCOUNT_FEATURES",
    "ACCOUNT_FEATURE_NAMES",
    "AccountDefinition",
    "AccountFeature",
    "AccountState",
    "ChunkedAccountFeatures",
    "StateCounters",
    "account_features_from_frame",
    "compute_account_features",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"fraudstream.model.accounts.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
