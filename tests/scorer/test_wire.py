"""The wire encoder's bytes parse to exactly the Score messages the protobuf API would build."""

from __future__ import annotations

import math

import pytest

from fraudstream.scorer.engine import ScoredBatch, ScoringEngine
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.model_info import DETECTORS
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.wire import encode_response, encode_scores, varint
from fraudstream.v1 import score_pb2, scoring_service_pb2
from fraudstream.v1.transaction_pb2 import Transaction

from .test_shadow import challenger_snapshot


def _expected(batch: ScoredBatch, include_features: bool) -> list[score_pb2.Score]:
    """Reference: the same content built field by field with the protobuf API."""
    reasons = dict(zip(batch.explained.tolist(), batch.reasons, strict=True))
    expected = []
    for i, event_id in enumerate(batch.event_ids):
        score = score_pb2.Score(event_id=event_id, model_version=batch.model.model_version)
        row = int(batch.rows[i])
        if row < 0:
            field, message = batch.problems[i]
            score.error.field, score.error.message = field, message
            expected.append(score)
            continue
        result = batch.scores
        score.risk = float(result.risk[row])
        score.decision = int(result.decision[row])
        for name, values in result.scores.items():
            score.detector_scores.add(
                detector=DETECTORS[name],
                score=float(values[row]),
                raw_score=float(result.raw[name][row]),
                fired=bool(result.fired[name][row]),
            )
        for reason in reasons.get(row, []):
            score.reasons.add(
                code=reason.code,
                text=reason.text,
                contribution=reason.contribution,
                detector=DETECTORS.get(reason.detector, 0),
            )
        if include_features:
            score.features.schema_hash = batch.model.ensemble.feature_schema_hash
            score.features.values.extend(batch.features[row].tolist())
        shadow = batch.shadow
        if shadow is not None and shadow.scored[row]:
            score.challenger_risk = float(shadow.risk[row])
            score.challenger_decision = int(shadow.decision[row])
            score.challenger_version = shadow.model.model_version
        expected.append(score)
    return expected


@pytest.fixture(scope="module", params=["champion", "with challenger"])
def engine(model_bundle, request):
    holder = ModelHolder(load_serving_model(model_bundle))
    if request.param == "with challenger":
        # Scored in the shadow: the Scores also carry challenger_risk/decision/version.
        assert holder.current is not None
        holder.apply_challenger(challenger_snapshot(holder.current))
    return ScoringEngine(holder, ScorerMetrics(), 4096)


@pytest.mark.parametrize("include_features", [False, True])
def test_encoded_scores_equal_the_reference(engine, sample_transactions, include_features):
    batch_in = list(sample_transactions) * 20 + [
        Transaction(type=1, amount=5.0),
        Transaction(event_id="neg", type=1, amount=-1.0),
        Transaction(event_id="nan", type=2, amount=math.nan),
        Transaction(event_id="é-unicode", type=4, amount=12.5),
        # Finite values whose computed features overflow: an item error without a field.
        Transaction(event_id="huge", type=5, amount=0.0, old_balance_orig=1e308),
    ]
    batch = engine.score(batch_in)
    assert batch.explained.size > 0, "the sample holds flagged transactions"
    assert (batch.shadow is not None) == (engine.holder.challenger is not None)
    assert batch.rows[-1] == -1 and batch.problems[len(batch_in) - 1][0] == ""
    encoded = encode_scores(batch, include_features)
    parsed = [score_pb2.Score.FromString(data) for data in encoded]
    assert parsed == _expected(batch, include_features)

    response = scoring_service_pb2.StreamScoresResponse.FromString(
        encode_response(encoded, field=2, batch_id="b-7")
    )
    assert response.batch_id == "b-7"
    assert list(response.scores) == parsed
    unary = scoring_service_pb2.ScoreResponse.FromString(encode_response(encoded, field=1))
    assert list(unary.scores) == parsed


def test_one_transaction_per_call_is_encoded_as_the_reference(engine, sample_transactions):
    """A Score call's one transaction takes its own paths (struct-packed fixed fields, plain
    float checks): each of its Scores still parses to the reference message."""
    odd = [
        Transaction(type=1, amount=5.0),
        Transaction(event_id="nan", type=2, amount=math.nan),
        Transaction(event_id="type", type=9, amount=1.0),
        Transaction(event_id="huge", type=5, amount=0.0, old_balance_orig=1e308),
    ]
    flagged = errors = 0
    for tx in [*sample_transactions, *odd]:
        batch = engine.score([tx])
        flagged += batch.explained.size
        errors += len(batch.problems)
        encoded = encode_scores(batch, True)
        assert [score_pb2.Score.FromString(data) for data in encoded] == _expected(batch, True)
    assert flagged > 0, "the sample holds flagged transactions"
    assert errors == len(odd)


def test_a_batch_of_only_invalid_items_is_answered(engine):
    batch = engine.score([Transaction(event_id="a", amount=-1.0), Transaction(type=1)])
    parsed = [score_pb2.Score.FromString(data) for data in encode_scores(batch, True)]
    assert [s.error.field for s in parsed] == ["type", "event_id"]
    assert [s.event_id for s in parsed] == ["a", ""]


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**31])
def test_varint_matches_protobuf(value):
    # a uint64 field 1 is its tag (0x08) followed by the varint of the value
    from google.protobuf import wrappers_pb2

    assert wrappers_pb2.UInt64Value(value=value).SerializeToString() == (
        b"\x08" + varint(value) if value else b""
    )
