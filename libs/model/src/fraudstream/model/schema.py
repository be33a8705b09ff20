"""Feature schemas: the transaction features alone, or followed by the account features.

A bundle is trained on one schema and records it (names, hash, `account_features`); training,
evaluation and the scorer build its feature vector here, so the two schemas are computed by
one piece of code. The transaction schema's hash is the one bundles have always carried, so a
bundle without account features loads and scores exactly as before.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fraudstream.model.accounts import (
    ACCOUNT_FEATURE_NAMES,
    ACCOUNT_FEATURES,
    AccountDefinition,
    ChunkedAccountFeatures,
)
from fraudstream.model.features import FEATURE_NAMES, FEATURE_SCHEMA_HASH, features_from_frame
from fraudstream.model.validity import feature_limits

if TYPE_CHECKING:
    from fraudstream.model.ensemble import Ensemble
    from fraudstream.model.scores import EnsembleScores
    from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

# The Transaction field (and ItemError.field) that carries the account features.
ACCOUNT_FIELD = "account_features"


@dataclass(frozen=True)
class FeatureSchema:
    """An ordered list of feature names, its hash, and whether it holds the account features
    (then they follow the transaction features, in the account definition's order)."""

    names: tuple[str, ...]
    hash: str
    account_features: bool

    @property
    def width(self) -> int:
        """The number of features."""
        return len(self.names)


def _account_schema_hash(definition: AccountDefinition) -> str:
    # The names alone do not pin windows and aggregates: the definition's fingerprint does.
    names = "\n".join((*FEATURE_NAMES, *definition.names))
    text = f"{names}\naccount definition {definition.fingerprint()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


TRANSACTION_SCHEMA = FeatureSchema(FEATURE_NAMES, FEATURE_SCHEMA_HASH, account_features=False)
ACCOUNT_SCHEMA = FeatureSchema(
    (*FEATURE_NAMES, *ACCOUNT_FEATURE_NAMES),
    _account_schema_hash(ACCOUNT_FEATURES),
    account_features=True,
)
_SCHEMAS = {schema.hash: schema for schema in (TRANSACTION_SCHEMA, ACCOUNT_SCHEMA)}


def schema_for(account_features: bool) -> FeatureSchema:
    """The schema with or without the account features."""
    return ACCOUNT_SCHEMA if account_features else TRANSACTION_SCHEMA


def schema_of(schema_hash: str) -> FeatureSchema:
    """The schema of a hash; ValueError when this code computes no such schema."""
    schema = _SCHEMAS.get(schema_hash)
    if schema is None:
        raise ValueError(
            f"feature schema {schema_hash or '(none)'} is not one this code computes "
            f"(transaction features {TRANSACTION_SCHEMA.hash[:12]}, with account features "
            f"{ACCOUNT_SCHEMA.hash[:12]})"
        )
    return schema


def with_account_features(features: np.ndarray, accounts: np.ndarray) -> np.ndarray:
    """Transaction features followed by account features, row by row (one float64 matrix)."""
    out = np.empty((features.shape[0], features.shape[1] + accounts.shape[1]), dtype=np.float64)
    out[:, : features.shape[1]] = features
    out[:, features.shape[1] :] = accounts
    return out


def frame_features(
    frame: pd.DataFrame, schema: FeatureSchema, accounts: ChunkedAccountFeatures | None = None
) -> np.ndarray:
    """The schema's features of a PaySim chunk in event order (training, evaluation).

    With account features, `accounts` carries the stream across chunks: pass the same one for
    every chunk of a file, in order (None: the frame is the whole stream).
    """
    features = features_from_frame(frame)
    if not schema.account_features:
        return features
    stream = accounts if accounts is not None else ChunkedAccountFeatures()
    return with_account_features(features, stream.update_frame(frame))


def frame_scores(ensemble: Ensemble, frame: pd.DataFrame) -> EnsembleScores:
    """An ensemble's scores of PaySim rows (in file order) with the features of its schema."""
    return ensemble.score(frame_features(frame, schema_of(ensemble.feature_schema_hash)))


def account_problem(width: int, got: int) -> str:
    """The ItemError message of a transaction that lacks the account features a model takes."""
    return (
        f"this model takes the {width} account features (docs/account-features.md) with each "
        f"transaction, got {got}: run the ingest bridge with its account state, or read the "
        "Flink job's transactions.enriched"
    )


def account_values(
    transactions: Sequence[Transaction], definition: AccountDefinition = ACCOUNT_FEATURES
) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    """The account features carried by each transaction, and row -> (field, message) for the
    rows that cannot be scored with them: missing, of another length, not finite, or outside
    the range the definition's paths produce (`AccountFeature.bounds`)."""
    width = len(definition.features)
    values = np.full((len(transactions), width), np.nan)
    problems: dict[int, tuple[str, str]] = {}
    for row, transaction in enumerate(transactions):
        carried = transaction.account_features
        if len(carried) == width:
            values[row] = carried
        else:
            problems[row] = (ACCOUNT_FIELD, account_problem(width, len(carried)))
    low, high = feature_limits(definition.names)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < low) | (values > high)
    for row in np.flatnonzero(bad.any(axis=1)).tolist():
        if row in problems:
            continue
        names = ", ".join(definition.names[c] for c in np.flatnonzero(bad[row]).tolist())
        problems[row] = (
            ACCOUNT_FIELD,
            f"account features ({names}) are not finite or outside their range: they were not "
            "computed by this definition, so the transaction is not scored",
        )
    return values, problems
