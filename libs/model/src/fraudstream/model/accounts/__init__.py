"""Per-account features: one definition, an offline (vectorised) path and an embedded state."""

from fraudstream.model.accounts.definition import (
    ACCOUNT_FEATURE_NAMES,
    ACCOUNT_FEATURES,
    AccountDefinition,
    AccountFeature,
)
from fraudstream.model.accounts.offline import (
    ChunkedAccountFeatures,
    account_features_from_frame,
    compute_account_features,
)
from fraudstream.model.accounts.state import AccountState, StateCounters

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
