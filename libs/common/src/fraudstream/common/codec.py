"""Transactions on Kafka: protobuf (default) or JSON values, told apart by a content-type header."""

from __future__ import annotations

import json
import logging
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError

from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

CONTENT_TYPE_HEADER = "content-type"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
FORMATS = {"protobuf": PROTOBUF, "json": JSON}


class DecodeError(ValueError):
    """A Kafka value that is not a Transaction; `reason` is a short code for metrics and DLQ."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def encode_transaction(transaction: Transaction, content_type: str = PROTOBUF) -> bytes:
    """The Kafka value for `transaction` in the given content type."""
    if content_type == JSON:
        return json_format.MessageToJson(
            transaction, preserving_proto_field_name=True, indent=None
        ).encode()
    return transaction.SerializeToString()


def decode_transaction(value: bytes | None, content_type: str | None = None) -> Transaction:
    """Parse a Kafka value; without a content type, a value starting with '{' is taken as JSON."""
    if not value:
        raise DecodeError("empty", "the message has no value")
    if content_type is None:
        content_type = JSON if value.lstrip()[:1] == b"{" else PROTOBUF
    transaction = Transaction()
    if content_type == JSON:
        try:
            json_format.Parse(value, transaction)
        except (json_format.ParseError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DecodeError("bad_json", f"not a JSON Transaction: {exc}") from exc
    elif content_type == PROTOBUF:
        try:
            transaction.ParseFromString(value)
        except ProtobufDecodeError as exc:
            raise DecodeError("bad_protobuf", f"not a protobuf Transaction: {exc}") from exc
    else:
        raise DecodeError("bad_content_type", f"unsupported content type {content_type!r}")
    if not transaction.event_id:
        raise DecodeError("missing_event_id", "the transaction has no event_id")
    return transaction


def content_type(headers: Any) -> str | None:
    """The content type a Kafka message's headers (`Message.headers()`: (key, value) pairs, or
    None) name (the last such header), if any."""
    found = None
    pairs = headers.items() if isinstance(headers, dict) else headers or []
    for key, value in pairs:
        if key == CONTENT_TYPE_HEADER and value is not None:
            found = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return found
