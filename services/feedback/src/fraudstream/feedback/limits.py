"""What the feedback service accepts: value ranges and size limits of alerts and requests."""

from __future__ import annotations

import math

from fraudstream.common.errors import InvalidArgument
from fraudstream.v1 import alert_pb2

# A real alert is about 1 KiB (transaction, score, a few reasons, ~30 features); 16 KiB leaves
# room while 100 cases (a full ListAlerts page) stay far below a client's default 4 MiB limit.
MAX_ALERT_BYTES = 16 * 1024
# Identities and names (event_id, account names, model version, schema hash, reason codes).
MAX_STRING_CHARS = 256
MAX_REASONS = 64
MAX_REASON_CHARS = 1024
# The ingest bridge sends at most one scored batch (batch_size <= 4096) per request.
MAX_ALERTS_PER_REQUEST = 4096
# Analysts' free-text notes and the names clients give themselves.
MAX_NOTE_CHARS = 4096
MAX_CLIENT_NAME_CHARS = 128
# ListAlerts page sizes: larger requests are served this many (the cap the contract states).
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def short(text: str, limit: int = 64) -> str:
    """`text` cut for an error message or an ack, so a huge value is never echoed whole."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def check_text(name: str, value: str, limit: int) -> None:
    """InvalidArgument when a request's string field is longer than `limit` characters."""
    if len(value) > limit:
        raise InvalidArgument(f"{name} has {len(value)} characters, at most {limit} are allowed")


def _check_unit(name: str, value: float) -> None:
    # `not 0 <= value <= 1` is also true for NaN, which compares false with everything.
    if not 0.0 <= value <= 1.0:
        raise InvalidArgument(f"{name} must be a finite number in 0..1, got {value!r}")


def _check_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise InvalidArgument(f"{name} must be a finite number, got {value!r}")


def check_alert(alert: alert_pb2.Alert, size: int) -> None:
    """InvalidArgument naming the first thing out of range or oversize in a reported alert.

    `size` is the alert's serialized length, measured once by the caller.
    """
    if size > MAX_ALERT_BYTES:
        raise InvalidArgument(f"alert is {size} bytes serialized, at most {MAX_ALERT_BYTES}")
    transaction, score = alert.transaction, alert.score
    strings = {
        "transaction.event_id": transaction.event_id,
        "transaction.name_orig": transaction.name_orig,
        "transaction.name_dest": transaction.name_dest,
        "score.event_id": score.event_id,
        "score.model_version": score.model_version,
        "score.features.schema_hash": score.features.schema_hash,
    }
    for name, value in strings.items():
        check_text(name, value, MAX_STRING_CHARS)
    _check_unit("score.risk", score.risk)
    for i, detector in enumerate(score.detector_scores):
        _check_unit(f"score.detector_scores[{i}].score", detector.score)
        _check_finite(f"score.detector_scores[{i}].raw_score", detector.raw_score)
    if len(score.reasons) > MAX_REASONS:
        raise InvalidArgument(f"score has {len(score.reasons)} reasons, at most {MAX_REASONS}")
    for i, reason in enumerate(score.reasons):
        check_text(f"score.reasons[{i}].code", reason.code, MAX_STRING_CHARS)
        check_text(f"score.reasons[{i}].text", reason.text, MAX_REASON_CHARS)
        _check_finite(f"score.reasons[{i}].contribution", reason.contribution)
    money = {
        "transaction.amount": transaction.amount,
        "transaction.old_balance_orig": transaction.old_balance_orig,
        "transaction.new_balance_orig": transaction.new_balance_orig,
        "transaction.old_balance_dest": transaction.old_balance_dest,
        "transaction.new_balance_dest": transaction.new_balance_dest,
    }
    for name, amount in money.items():
        _check_finite(name, amount)
