"""The scorer stream and client against an in-process scorer that fails batches (port 0)."""

from __future__ import annotations

import time

import grpc
import pytest

from fraudstream.ingest.assembly import _score_stream
from fraudstream.ingest.routing import Unscorable
from fraudstream.ingest.scorer_client import ScorerClient
from fraudstream.ingest.streams import OrderedStream
from fraudstream.v1 import score_pb2, scoring_service_pb2


@pytest.fixture
def score_stream(poisoned_scorer, credentials):
    # With the bridge's own token, as the ingest process sends it.
    stream = OrderedStream(
        "scorer",
        poisoned_scorer,
        _score_stream,
        max_backoff=0.5,
        channel_factory=credentials.transport("ingest").channel,
    )
    stream.start()
    yield stream
    stream.stop()


def _request(batch_id: str, transactions) -> scoring_service_pb2.StreamScoresRequest:
    return scoring_service_pb2.StreamScoresRequest(batch_id=batch_id, transactions=transactions)


def test_each_future_holds_the_response_to_its_own_request(score_stream, good_transaction):
    sizes = [1, 7, 3, 64, 2]
    futures = [
        score_stream.submit(_request(f"b{n}", [good_transaction(f"e{n}-{i}") for i in range(k)]))
        for n, k in enumerate(sizes)
    ]
    for n, (future, size) in enumerate(zip(futures, sizes, strict=True)):
        response = future.result(timeout=30)
        assert response.batch_id == f"b{n}"
        assert [s.event_id for s in response.scores] == [f"e{n}-{i}" for i in range(size)]
    assert score_stream.connected.is_set()


def test_a_request_the_scorer_fails_fails_only_its_own_future(
    score_stream, good_transaction, poison_transaction
):
    before = score_stream.submit(_request("before", [good_transaction("g1")]))
    poisoned = score_stream.submit(
        _request("poisoned", [good_transaction("g2"), poison_transaction("p")])
    )
    after = score_stream.submit(_request("after", [good_transaction("g3")]))

    assert before.result(timeout=30).batch_id == "before"
    with pytest.raises(grpc.RpcError) as failure:
        poisoned.result(timeout=30)
    assert failure.value.code() == grpc.StatusCode.UNKNOWN
    assert "infinity" in failure.value.details()
    # The stream re-opened and sent what was not answered yet, not the failed request.
    assert after.result(timeout=30).batch_id == "after"


def test_the_client_scores_every_item_around_poison_ones(
    score_stream, good_transaction, poison_transaction
):
    n, poison_at = 300, {41, 42, 250}
    transactions = [
        poison_transaction(f"p{i}") if i in poison_at else good_transaction(f"g{i}")
        for i in range(n)
    ]
    started = time.monotonic()
    scored = ScorerClient(score_stream).score("b1", transactions).result(timeout=30)
    assert time.monotonic() - started < 10

    assert len(scored) == n
    for i, (transaction, score) in enumerate(zip(transactions, scored, strict=True)):
        if i in poison_at:
            assert isinstance(score, Unscorable), i
            assert score.message.startswith("UNKNOWN: ") and "infinity" in score.message
        else:
            assert isinstance(score, score_pb2.Score), i
            assert score.event_id == transaction.event_id and not score.HasField("error")
    # Later batches are not held back by the split.
    again = ScorerClient(score_stream).score("b2", [good_transaction("late")])
    assert isinstance(again.result(timeout=10)[0], score_pb2.Score)
