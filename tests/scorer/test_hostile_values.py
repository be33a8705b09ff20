"""Hostile numbers fail closed per item: an error in their slot, never a batch failure or NaN."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudstream.model.features import FEATURE_NAMES
from fraudstream.model.linear import LinearModel
from fraudstream.scorer.engine import ScoredBatch, ScoringEngine
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.server import ScorerDeps, build_server
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1 import score_pb2, scoring_service_pb2, scoring_service_pb2_grpc
from fraudstream.v1.transaction_pb2 import Transaction

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
DECISIONS = (score_pb2.DECISION_ALLOW, score_pb2.DECISION_REVIEW, score_pb2.DECISION_BLOCK)
EXTREMES = (
    1e308,
    -1e308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    0.0,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
)


@pytest.fixture(scope="module")
def hostile_transactions() -> list[Transaction]:
    """Finite amounts and balances near the float64 limit: raw checks pass, features overflow."""
    records = json.loads((TESTDATA / "scorer_hostile_transactions.json").read_text())
    return [json_format.ParseDict(record, Transaction()) for record in records]


@pytest.fixture(scope="module")
def engine(model_bundle: Path) -> ScoringEngine:
    return ScoringEngine(ModelHolder(load_serving_model(model_bundle)), ScorerMetrics(), 4096)


@pytest.fixture(scope="module")
def stub(engine: ScoringEngine) -> Iterator[scoring_service_pb2_grpc.ScoringServiceStub]:
    """An in-process scorer (build_server on port 0) serving the session bundle."""
    service = build_server(
        ScorerSettings(port=0, learner_addr="", insecure_allow_anonymous=True, max_batch_size=4096),
        ScorerDeps(holder=engine.holder),
    )
    service.start()
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        yield scoring_service_pb2_grpc.ScoringServiceStub(channel)
    service.stop(0)


def _stream(stub, transactions, include_features=False) -> list[score_pb2.Score]:
    request = scoring_service_pb2.StreamScoresRequest(
        batch_id="hostile", transactions=transactions, include_features=include_features
    )
    response = next(stub.StreamScores(iter([request]), timeout=30))
    assert response.batch_id == "hostile"
    return list(response.scores)


def test_overflowing_features_get_an_item_error_and_the_batch_is_scored(
    stub, sample_transactions, hostile_transactions
):
    batch = [sample_transactions[0], *hostile_transactions, sample_transactions[5]]
    for scores in (
        _stream(stub, batch),
        list(stub.Score(scoring_service_pb2.ScoreRequest(transactions=batch), timeout=30).scores),
    ):
        assert [s.event_id for s in scores] == [t.event_id for t in batch]
        good, *bad, takeover = scores
        for score in (good, takeover):
            assert not score.HasField("error")
            assert score.decision in DECISIONS
        for score in bad:
            assert score.HasField("error")
            assert "too large to score" in score.error.message
            assert "computed features (" in score.error.message
            assert score.decision == score_pb2.DECISION_UNSPECIFIED
            assert not score.detector_scores and not score.reasons


def test_a_non_finite_risk_fails_closed_and_is_never_allowed(engine, sample_transactions):
    """A served classifier whose finite weights overflow (+-1e308) gives NaN log-odds."""
    model = engine.holder.current
    classifier = model.ensemble.classifier
    coefficients = np.zeros_like(classifier.coefficients)
    coefficients[:2] = (1e308, -1e308)
    hostile = LinearModel(
        input_names=classifier.input_names,
        mean=np.zeros_like(classifier.mean),
        scale=np.full_like(classifier.scale, 1e-300),
        coefficients=coefficients,
        intercept=0.0,
    )
    served = replace(model, ensemble=replace(model.ensemble, classifier=hostile))
    nan_engine = ScoringEngine(ModelHolder(served), ScorerMetrics(), 4096)
    batch = nan_engine.score(sample_transactions)
    # inf - inf where both weighted features are non-zero; a zero one leaves +-inf, risk 0 or 1.
    features = engine.score(sample_transactions).features
    nan_rows = np.flatnonzero((features[:, 0] != 0) & (features[:, 1] != 0))
    assert 0 < nan_rows.size < len(sample_transactions)
    assert np.flatnonzero(batch.rows == -1).tolist() == nan_rows.tolist()
    for field, message in batch.problems.values():
        assert field == ""
        assert "not a finite number" in message and "never ALLOW" in message
    assert batch.scores is not None and np.isfinite(batch.scores.risk).all()
    unscorable = nan_engine.metrics.registry.get_sample_value(
        "scorer_invalid_transactions_total", {"field": "unscorable"}
    )
    assert unscorable == nan_rows.size


def test_rows_the_model_raises_on_fail_alone(engine, sample_transactions):
    """An autoencoder scaler that overflows (scale 1e-308) on a non-zero orig_error_ratio:
    the network then refuses the whole batch (as scikit-learn's: "Input X contains infinity")."""
    model = engine.holder.current
    autoencoder = model.ensemble.autoencoder
    column = autoencoder.columns.index(FEATURE_NAMES.index("orig_error_ratio"))
    mean, scale = autoencoder.mean.copy(), autoencoder.scale.copy()
    mean[column], scale[column] = 0.0, 1e-308
    hostile = replace(model.ensemble, autoencoder=replace(autoencoder, mean=mean, scale=scale))
    raising = ScoringEngine(ModelHolder(replace(model, ensemble=hostile)), ScorerMetrics(), 4096)
    ratios = engine.score(sample_transactions).features[:, FEATURE_NAMES.index("orig_error_ratio")]
    overflowing = np.flatnonzero(np.abs(ratios) > 1.8)
    assert 0 < overflowing.size < len(sample_transactions)
    batch = raising.score(sample_transactions)
    assert np.flatnonzero(batch.rows == -1).tolist() == overflowing.tolist()
    for row in overflowing.tolist():
        assert batch.problems[row][1].startswith("the model could not score this transaction")
    assert batch.scores is not None and np.isfinite(batch.scores.risk).all()
    assert batch.features.shape[0] == batch.scores.risk.shape[0]


def _number() -> st.SearchStrategy[float]:
    return st.one_of(
        st.sampled_from(EXTREMES),
        st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
        st.floats(min_value=0, max_value=1e7),
    )


def _text() -> st.SearchStrategy[str]:
    # Strings up to 50k characters: protobuf carries them; the scorer must not care.
    letters = st.characters(blacklist_categories=("Cs",))
    return st.one_of(
        st.text(letters, max_size=20),
        st.builds(lambda c, n: c * n, letters, st.integers(0, 50_000)),
    )


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    return Transaction(
        event_id=draw(_text()),
        step=draw(st.integers(-(2**31), 2**31 - 1)),
        type=draw(st.integers(-2, 8)),
        amount=draw(_number()),
        name_orig=draw(_text()),
        old_balance_orig=draw(_number()),
        new_balance_orig=draw(_number()),
        name_dest=draw(st.one_of(_text(), st.sampled_from(["M1", "C1"]))),
        old_balance_dest=draw(_number()),
        new_balance_dest=draw(_number()),
    )


def _check_batch(batch: ScoredBatch, n: int) -> None:
    """Every item is an error or a served score with a finite risk and finite features."""
    assert batch.rows.shape == (n,)
    for i, row in enumerate(batch.rows.tolist()):
        if row < 0:
            assert batch.problems[i][1], "an unscorable item must say why"
            continue
        assert i not in batch.problems
        assert batch.scores is not None
        assert math.isfinite(batch.scores.risk[row]) and 0.0 <= batch.scores.risk[row] <= 1.0
        assert batch.scores.decision[row] in DECISIONS
        assert np.isfinite(batch.features[row]).all()


_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(hostile=st.lists(transactions(), min_size=1, max_size=6))
def test_engine_never_raises_or_serves_nan(engine, sample_transactions, hostile):
    expected = engine.score(sample_transactions)
    batch = engine.score([*sample_transactions, *hostile])
    _check_batch(batch, len(sample_transactions) + len(hostile))
    good = batch.rows[: len(sample_transactions)]
    assert (good >= 0).all(), "valid transactions next to hostile ones are still scored"
    assert batch.scores is not None and expected.scores is not None
    np.testing.assert_allclose(batch.scores.risk[good], expected.scores.risk, rtol=1e-9)
    for i, tx in enumerate(hostile, start=len(sample_transactions)):
        raw = (tx.amount, tx.old_balance_orig, tx.new_balance_orig)
        raw += (tx.old_balance_dest, tx.new_balance_dest)
        if not all(math.isfinite(v) for v in raw) or not tx.event_id or not 1 <= tx.type <= 5:
            assert batch.rows[i] == -1


@_SETTINGS
@given(hostile=st.lists(transactions(), min_size=1, max_size=4))
def test_stream_scores_answers_every_item(stub, sample_transactions, hostile):
    batch = [sample_transactions[0], *hostile, sample_transactions[5]]
    scores = _stream(stub, batch, include_features=True)
    assert [s.event_id for s in scores] == [t.event_id for t in batch]
    for score in scores:
        if score.HasField("error"):
            assert score.error.message
            assert score.decision == score_pb2.DECISION_UNSPECIFIED
            continue
        assert math.isfinite(score.risk) and 0.0 <= score.risk <= 1.0
        assert score.decision in DECISIONS
        assert all(math.isfinite(v) for v in score.features.values)
    assert not scores[0].HasField("error") and not scores[-1].HasField("error")
