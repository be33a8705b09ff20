"""StreamScores, Score and GetModelInfo through a real in-process server on a free port."""

from __future__ import annotations

import math
import shutil
import threading

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.model.bundle import load_bundle
from fraudstream.model.columns import transaction_columns
from fraudstream.model.compiled import CompiledForest
from fraudstream.model.detectors import DenseAutoencoder
from fraudstream.model.enginebench import sklearn_ensemble
from fraudstream.model.features import features_from_columns
from fraudstream.model.forest import CompactForest
from fraudstream.v1 import score_pb2, scoring_service_pb2
from fraudstream.v1.transaction_pb2 import Transaction


def _batch(sample, batch_no: int, size: int) -> list[Transaction]:
    batch = []
    for i in range(size):
        tx = Transaction()
        tx.CopyFrom(sample[i % len(sample)])
        tx.event_id = f"b{batch_no}-{i}"
        batch.append(tx)
    return batch


def test_each_response_answers_its_batch_in_order(scorer, sample_transactions):
    batches = [_batch(sample_transactions, b, size) for b, size in enumerate([1, 7, 512, 3, 64])]
    requests = [
        scoring_service_pb2.StreamScoresRequest(batch_id=f"batch-{b}", transactions=batch)
        for b, batch in enumerate(batches)
    ]
    responses = list(scorer.stub.StreamScores(iter(requests), timeout=30))
    assert [r.batch_id for r in responses] == [r.batch_id for r in requests]
    for request, response in zip(requests, responses, strict=True):
        assert [s.event_id for s in response.scores] == [t.event_id for t in request.transactions]
        for score in response.scores:
            assert not score.HasField("error")
            assert 0.0 <= score.risk <= 1.0
            assert score.decision in (
                score_pb2.DECISION_ALLOW,
                score_pb2.DECISION_REVIEW,
                score_pb2.DECISION_BLOCK,
            )
            assert {d.detector for d in score.detector_scores} == {
                score_pb2.DETECTOR_ISOLATION_FOREST,
                score_pb2.DETECTOR_AUTOENCODER,
                score_pb2.DETECTOR_CLASSIFIER,
            }
            assert score.model_version.endswith("+s0")


def test_account_takeover_is_flagged_with_reasons(scorer, sample_transactions):
    by_id = {
        s.event_id: s
        for s in scorer.stub.Score(
            scoring_service_pb2.ScoreRequest(transactions=sample_transactions), timeout=10
        ).scores
    }
    takeover, payment = by_id["t-5"], by_id["t-0"]
    assert takeover.risk > payment.risk
    assert takeover.decision in (score_pb2.DECISION_REVIEW, score_pb2.DECISION_BLOCK)
    assert payment.decision == score_pb2.DECISION_ALLOW
    assert takeover.reasons, "a flagged transaction must say why"
    contributions = [r.contribution for r in takeover.reasons if r.contribution]
    assert contributions == sorted(contributions, reverse=True)
    assert all(r.text for r in takeover.reasons)


def test_invalid_items_get_errors_in_their_slots(scorer, sample_transactions):
    good = _batch(sample_transactions, 0, 4)
    no_id = Transaction(type=1, amount=5.0)
    negative = Transaction(event_id="neg", type=1, amount=-5.0)
    not_finite = Transaction(event_id="nan", type=2, amount=math.nan)
    unknown_type = Transaction(event_id="typeless", amount=10.0)
    batch = [good[0], no_id, good[1], negative, not_finite, unknown_type, good[2]]
    response = next(
        scorer.stub.StreamScores(
            iter([scoring_service_pb2.StreamScoresRequest(batch_id="mixed", transactions=batch)]),
            timeout=10,
        )
    )
    errors = [s.error.field if s.HasField("error") else None for s in response.scores]
    assert errors == [None, "event_id", None, "amount", "amount", "type", None]
    assert all(s.error.message for s in response.scores if s.HasField("error"))
    assert [s.event_id for s in response.scores] == [t.event_id for t in batch]
    invalid = scorer.deps.metrics.registry.get_sample_value(
        "scorer_invalid_transactions_total", {"field": "amount"}
    )
    assert invalid == 2


def test_oversize_batch_is_refused_with_invalid_argument(scorer, sample_transactions):
    big = _batch(sample_transactions, 0, scorer.max_batch + 1)
    with pytest.raises(grpc.RpcError) as refused:
        list(
            scorer.stub.StreamScores(
                iter([scoring_service_pb2.StreamScoresRequest(batch_id="big", transactions=big)]),
                timeout=10,
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"maximum of {scorer.max_batch}" in refused.value.details()


def test_client_cancellation_ends_the_stream_and_the_server_goes_on(scorer, sample_transactions):
    release = threading.Event()

    def requests():
        yield scoring_service_pb2.StreamScoresRequest(
            batch_id="first", transactions=_batch(sample_transactions, 0, 8)
        )
        release.wait(10)  # the client holds the stream open, then cancels it

    call = scorer.stub.StreamScores(requests(), timeout=30)
    assert next(call).batch_id == "first"
    call.cancel()
    release.set()
    with pytest.raises(grpc.RpcError) as cancelled:
        next(call)
    assert cancelled.value.code() == grpc.StatusCode.CANCELLED
    again = scorer.stub.Score(
        scoring_service_pb2.ScoreRequest(transactions=sample_transactions[:1]), timeout=10
    )
    assert len(again.scores) == 1


def test_deadline_is_honoured(scorer, sample_transactions):
    never = threading.Event()

    def requests():
        yield scoring_service_pb2.StreamScoresRequest(
            batch_id="only", transactions=_batch(sample_transactions, 0, 2)
        )
        never.wait(5)

    call = scorer.stub.StreamScores(requests(), timeout=0.5)
    assert next(call).batch_id == "only"
    with pytest.raises(grpc.RpcError) as expired:
        next(call)
    never.set()
    assert expired.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_features_are_returned_on_request(scorer, sample_transactions):
    scores = scorer.stub.Score(
        scoring_service_pb2.ScoreRequest(transactions=sample_transactions, include_features=True),
        timeout=10,
    ).scores
    info = scorer.stub.GetModelInfo(scoring_service_pb2.GetModelInfoRequest(), timeout=10)
    for score in scores:
        assert score.features.schema_hash == info.feature_schema_hash
        assert len(score.features.values) == len(info.feature_names)


def test_model_info_describes_the_bundle(scorer, model_bundle):
    info = scorer.stub.GetModelInfo(scoring_service_pb2.GetModelInfoRequest(), timeout=10)
    model = scorer.deps.holder.current
    assert info.bundle_version == model.bundle_version
    assert info.snapshot_version == 0
    assert info.model_version == f"{model.bundle_version}+s0"
    assert 0 < info.thresholds.review <= info.thresholds.block <= 1
    assert info.max_batch_size == scorer.max_batch
    assert len(info.detectors) == 3
    assert info.loaded_time.seconds > 0
    assert info.bundle_created_time.seconds > 0


def test_health_is_serving_with_a_model(scorer):
    stub = health_pb2_grpc.HealthStub(scorer.channel)
    reply = stub.Check(health_pb2.HealthCheckRequest(service="fraudstream.v1.ScoringService"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_served_scores_are_scikit_learns_through_the_fast_engines(
    scorer, sample_transactions, model_bundle
):
    """The scorer serves with the compiled forest and the numpy autoencoder, and what it sends
    equals the bundle's scikit-learn models' scores, for one transaction and for a batch."""
    ensemble = scorer.deps.holder.current.ensemble
    # Without a C compiler the numpy forest serves instead (docs/performance.md).
    forest_engine = CompiledForest if shutil.which("gcc") else CompactForest
    assert isinstance(ensemble.isolation_forest.model, forest_engine)
    assert isinstance(ensemble.autoencoder, DenseAutoencoder)
    reference = sklearn_ensemble(load_bundle(model_bundle))
    expected = reference.score(features_from_columns(transaction_columns(sample_transactions)))
    codes = {
        score_pb2.DETECTOR_ISOLATION_FOREST: "isolation_forest",
        score_pb2.DETECTOR_AUTOENCODER: "autoencoder",
        score_pb2.DETECTOR_CLASSIFIER: "classifier",
    }
    alone = [
        scorer.stub.Score(scoring_service_pb2.ScoreRequest(transactions=[tx]), timeout=10).scores[0]
        for tx in sample_transactions
    ]
    together = scorer.stub.Score(
        scoring_service_pb2.ScoreRequest(transactions=sample_transactions), timeout=10
    ).scores
    for served in (alone, list(together)):
        np.testing.assert_allclose([s.risk for s in served], expected.risk, rtol=0, atol=1e-9)
        assert [s.decision for s in served] == expected.decision.tolist()
        for row, score in enumerate(served):
            for detector in score.detector_scores:
                name = codes[detector.detector]
                assert abs(detector.score - expected.scores[name][row]) <= 1e-9, name
