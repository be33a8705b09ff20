"""Account features written into transactions as wire bytes, a batch's rows with one numpy call.

Filling `Transaction.account_features` through the protobuf API (`extend`, slice assignment)
converts and checks every float in Python: about as much CPU per event as the account state
itself. The field is a packed repeated double, so its wire form is the tag, the byte length and
the little-endian float64 values: numpy lays out every row at once and `MergeFromString` parses
each row in C. The result equals the API's (tests/ingest/test_account_wire.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from google.protobuf.descriptor import FieldDescriptor

from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

_FIELD = Transaction.DESCRIPTOR.fields_by_name["account_features"]
# A packed repeated double on the wire: one length-delimited record (wire type 2).
assert _FIELD.type == FieldDescriptor.TYPE_DOUBLE and _FIELD.is_packed
_TAG = bytes([(_FIELD.number << 3) | 2])


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def fill_account_features(transactions: Sequence[Transaction], features: np.ndarray) -> None:
    """Set each transaction's account features to its row of `features` (replacing any)."""
    if not len(transactions):
        return
    width = features.shape[1] * 8
    prefix = _TAG + _varint(width)
    rows = np.ascontiguousarray(features, dtype="<f8").tobytes()
    for i, transaction in enumerate(transactions):
        if len(transaction.account_features):
            del transaction.account_features[:]  # sent by the producer: ours replace them
        transaction.MergeFromString(prefix + rows[i * width : (i + 1) * width])
