"""Score messages encoded straight to protobuf wire bytes, with numpy for the per-row numbers.

Building one Score message per transaction with the protobuf API costs ~10 us each (3 nested
DetectorScores, a feature vector), which alone would cap a scorer at ~50k tx/s. The fixed-size
part of every Score (risk, decision, the detector scores) is laid out here as one numpy record
per row; only the variable parts (event id, the few reasons, item errors) are joined in Python.
The bytes parse to exactly the Score messages the protobuf API builds from the same engine
output (tests/scorer/test_wire.py).
"""

from __future__ import annotations

import struct
from functools import cache

import numpy as np

from fraudstream.scorer.engine import ScoredBatch
from fraudstream.scorer.model_info import DETECTORS
from fraudstream.v1 import score_pb2

# Wire tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
_SCORE_EVENT_ID = b"\x0a"
_SCORE_RISK = 0x11
_SCORE_DECISION = 0x18
_SCORE_DETECTOR = 0x22
_SCORE_MODEL_VERSION = b"\x2a"
_SCORE_REASON = b"\x32"
_SCORE_FEATURES = b"\x42"
_SCORE_CHALLENGER_RISK = 0x49
_SCORE_CHALLENGER_DECISION = 0x50
_SCORE_CHALLENGER_VERSION = b"\x5a"
_DETECTOR_BODY = 22  # detector (2) + score (9) + raw score (9) + fired (2) bytes
# One row's fixed fields, as _fixed_dtype lays them out (little-endian, no padding).
_RISK_DECISION = struct.Struct("<BdBB")
_DETECTOR = struct.Struct("<BBBBBdBdBB")


def varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + varint(len(payload)) + payload


@cache  # one per detector count: building it costs ~10 us, a one-transaction call ~50 us in all
def _fixed_dtype(n_detectors: int) -> np.dtype:
    names, formats, offsets = (
        ["risk_tag", "risk", "decision_tag", "decision"],
        ["u1", "<f8", "u1", "u1"],
        [0, 1, 9, 10],
    )
    for d in range(n_detectors):
        base = 11 + d * (_DETECTOR_BODY + 2)
        fields = [
            ("tag", "u1", 0),
            ("len", "u1", 1),
            ("det_tag", "u1", 2),
            ("det", "u1", 3),
            ("score_tag", "u1", 4),
            ("score", "<f8", 5),
            ("raw_tag", "u1", 13),
            ("raw", "<f8", 14),
            ("fired_tag", "u1", 22),
            ("fired", "u1", 23),
        ]
        for name, fmt, offset in fields:
            names.append(f"d{d}_{name}")
            formats.append(fmt)
            offsets.append(base + offset)
    itemsize = 11 + n_detectors * (_DETECTOR_BODY + 2)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize})


def _fixed_parts(batch: ScoredBatch) -> tuple[bytes, int]:
    """The risk, decision and detector scores of every valid row, as one byte string."""
    result = batch.scores
    assert result is not None
    dtype = _fixed_dtype(len(result.scores))
    if result.risk.shape[0] == 1:
        return _fixed_one(batch), dtype.itemsize
    records = np.zeros(result.risk.shape[0], dtype=dtype)
    records["risk_tag"], records["risk"] = _SCORE_RISK, result.risk
    records["decision_tag"], records["decision"] = _SCORE_DECISION, result.decision
    for d, (name, values) in enumerate(result.scores.items()):
        p = f"d{d}_"
        records[p + "tag"], records[p + "len"] = _SCORE_DETECTOR, _DETECTOR_BODY
        records[p + "det_tag"], records[p + "det"] = 0x08, DETECTORS[name]
        records[p + "score_tag"], records[p + "score"] = 0x11, values
        records[p + "raw_tag"], records[p + "raw"] = 0x19, result.raw[name]
        records[p + "fired_tag"], records[p + "fired"] = 0x20, result.fired[name]
    return records.tobytes(), dtype.itemsize


def _fixed_one(batch: ScoredBatch) -> bytes:
    """The same bytes as _fixed_parts for one row, packed by struct (a Score call's one
    transaction: ~30 numpy field assignments cost more than the rest of its encoding)."""
    result = batch.scores
    assert result is not None
    risk, decision = float(result.risk[0]), int(result.decision[0])
    parts = [_RISK_DECISION.pack(_SCORE_RISK, risk, _SCORE_DECISION, decision)]
    for name, values in result.scores.items():
        score, raw, fired = float(values[0]), float(result.raw[name][0]), int(result.fired[name][0])
        fields = (0x08, DETECTORS[name], 0x11, score, 0x19, raw, 0x20, fired)
        parts.append(_DETECTOR.pack(_SCORE_DETECTOR, _DETECTOR_BODY, *fields))
    return b"".join(parts)


# The challenger's risk and decision (fields 9 and 10), after every other fixed field: with
# the challenger's version (field 11) last, a Score keeps protobuf's field order.
_SHADOW_DTYPE = np.dtype(
    {
        "names": ["risk_tag", "risk", "decision_tag", "decision"],
        "formats": ["u1", "<f8", "u1", "u1"],
        "offsets": [0, 1, 9, 10],
        "itemsize": 11,
    }
)


def _shadow_parts(batch: ScoredBatch) -> tuple[bytes, bytes, list[bool]]:
    """The challenger's fixed fields of every valid row, its version field, and which rows
    it scored (none when no challenger scored the batch)."""
    shadow = batch.shadow
    if shadow is None:
        return b"", b"", []
    records = np.zeros(shadow.risk.shape[0], dtype=_SHADOW_DTYPE)
    records["risk_tag"], records["risk"] = _SCORE_CHALLENGER_RISK, shadow.risk
    records["decision_tag"], records["decision"] = _SCORE_CHALLENGER_DECISION, shadow.decision
    version = _delimited(_SCORE_CHALLENGER_VERSION, shadow.model.model_version.encode())
    return records.tobytes(), version, shadow.scored.tolist()


def encode_scores(batch: ScoredBatch, include_features: bool) -> list[bytes]:
    """One serialized Score per transaction of the batch, in order."""
    version = _delimited(_SCORE_MODEL_VERSION, batch.model.model_version.encode())
    fixed, width = _fixed_parts(batch) if batch.scores is not None else (b"", 0)
    reasons = {
        int(row): b"".join(
            _delimited(
                _SCORE_REASON,
                score_pb2.Reason(
                    code=r.code,
                    text=r.text,
                    contribution=r.contribution,
                    detector=DETECTORS.get(r.detector, score_pb2.DETECTOR_UNSPECIFIED),
                ).SerializeToString(),
            )
            for r in explanation
        )
        for row, explanation in zip(batch.explained.tolist(), batch.reasons, strict=True)
    }
    features, feature_width, feature_prefix = b"", 0, b""
    if include_features and batch.scores is not None:
        features = np.ascontiguousarray(batch.features, dtype="<f8").tobytes()
        feature_width = 8 * batch.features.shape[1]
        schema = batch.model.ensemble.feature_schema_hash.encode()
        inner = b"\x0a" + varint(len(schema)) + schema + b"\x12" + varint(feature_width)
        feature_prefix = _SCORE_FEATURES + varint(len(inner) + feature_width) + inner
    shadow, shadow_version, shadow_scored = _shadow_parts(batch)
    shadow_width = _SHADOW_DTYPE.itemsize
    encoded: list[bytes] = []
    for i, (event_id, row) in enumerate(zip(batch.event_ids, batch.rows.tolist(), strict=True)):
        identity = _delimited(_SCORE_EVENT_ID, event_id.encode()) if event_id else b""
        if row < 0:
            field, message = batch.problems[i]
            error = score_pb2.Score(error=score_pb2.ItemError(field=field, message=message))
            encoded.append(identity + version + error.SerializeToString())
            continue
        parts = [identity, fixed[row * width : (row + 1) * width], version, reasons.get(row, b"")]
        if feature_width:
            parts += [feature_prefix, features[row * feature_width : (row + 1) * feature_width]]
        if shadow_scored and shadow_scored[row]:
            parts += [shadow[row * shadow_width : (row + 1) * shadow_width], shadow_version]
        encoded.append(b"".join(parts))
    return encoded


def encode_response(scores: list[bytes], field: int, batch_id: str = "") -> bytes:
    """A StreamScoresResponse (scores = field 2, with batch_id) or ScoreResponse (field 1)."""
    tag = bytes([(field << 3) | 2])
    head = _delimited(b"\x0a", batch_id.encode()) if batch_id else b""
    return head + b"".join(tag + varint(len(score)) + score for score in scores)
