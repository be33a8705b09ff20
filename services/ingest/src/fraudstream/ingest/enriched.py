"""Values of `transactions.enriched` (the Flink job's output): a Transaction with its features."""

from __future__ import annotations

import json
import logging
import math

from google.protobuf import json_format

from fraudstream.common.codec import DecodeError
from fraudstream.model.accounts import ACCOUNT_FEATURE_NAMES
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)


def decode_enriched(value: bytes | None, content_type: str | None = None) -> Transaction:
    """The transaction of an EnrichedTransaction JSON value, its `account_features` filled in
    the definition's order from the value's map (every feature must be there, as a number).

    DecodeError (reason `bad_enriched`) otherwise: the message is dead-lettered, not scored.
    """
    if not value:
        raise DecodeError("empty", "the message has no value")
    try:
        record = json.loads(value)
        transaction = json_format.ParseDict(record["transaction"], Transaction())
        features = record["account_features"]
        values = [float(features[name]) for name in ACCOUNT_FEATURE_NAMES]
    except (KeyError, TypeError, ValueError, json_format.ParseError) as exc:
        raise DecodeError(
            "bad_enriched", f"not an EnrichedTransaction with every account feature: {exc!r}"
        ) from exc
    if not transaction.event_id:
        raise DecodeError("missing_event_id", "the transaction has no event_id")
    if not all(math.isfinite(v) for v in values):
        raise DecodeError("bad_enriched", "an account feature is not a finite number")
    transaction.account_features[:] = values
    return transaction
