"""Any Kafka value and content-type header an upstream can write decodes to a Transaction with an
event id or raises DecodeError with a reason (dead-lettered by the bridge): never another
exception, which would fail the whole poll instead of the one message."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from fraudstream.common.codec import JSON, PROTOBUF, DecodeError, decode_transaction
from fraudstream.v1.transaction_pb2 import Transaction

REASONS = {"empty", "bad_json", "bad_protobuf", "bad_content_type", "missing_event_id"}
FIELDS = [f.name for f in Transaction.DESCRIPTOR.fields]
_SETTINGS = settings(max_examples=300, deadline=None)

# What a hostile JSON producer puts in a field: extremes, non-finite spellings, wrong types.
hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0", "", "TRANSFER", "CASH_OUT"]),
    st.text(max_size=300),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
content_types = st.one_of(
    st.none(), st.sampled_from([JSON, PROTOBUF, "text/plain", ""]), st.text(max_size=40)
)


def _decoded_or_reason(value: bytes, content_type: str | None) -> Transaction | str:
    try:
        transaction = decode_transaction(value, content_type)
    except DecodeError as exc:
        assert exc.reason in REASONS and str(exc), exc
        return exc.reason
    assert isinstance(transaction, Transaction) and transaction.event_id
    return transaction


@_SETTINGS
@given(value=st.binary(max_size=2048), content_type=content_types)
def test_any_bytes_decode_or_give_a_reason(value: bytes, content_type: str | None):
    _decoded_or_reason(value, content_type)


@_SETTINGS
@given(
    fields=st.dictionaries(
        st.one_of(st.sampled_from(FIELDS), st.text(max_size=12)), hostile_values, max_size=12
    ),
    content_type=st.sampled_from([None, JSON]),
)
def test_any_json_object_decodes_or_gives_a_reason(fields: dict, content_type: str | None):
    value = json.dumps(fields, allow_nan=False).encode()
    found = _decoded_or_reason(value, content_type)
    if isinstance(found, Transaction):
        # What decoded carries what it was given; judging the values (finite, in range) is
        # the scorer's validity check, not the codec's.
        assert found.event_id == fields["event_id"]
        amount = fields.get("amount")
        if isinstance(amount, float):
            assert found.amount == amount


@_SETTINGS
@given(transaction_bytes=st.binary(max_size=256), flip=st.integers(0, 255), at=st.integers(0, 255))
def test_a_corrupted_protobuf_transaction_decodes_or_gives_a_reason(
    transaction_bytes: bytes, flip: int, at: int
):
    good = Transaction(event_id="e-1", amount=10.0, name_orig="C1", name_dest="M2")
    value = bytearray(good.SerializeToString() + transaction_bytes)
    value[at % len(value)] ^= flip
    _decoded_or_reason(bytes(value), PROTOBUF)
