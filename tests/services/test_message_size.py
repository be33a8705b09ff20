"""--max-message-bytes bounds what one request may make a server read: a larger one is refused
RESOURCE_EXHAUSTED before it reaches the servicer, and the server goes on answering."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from fraudstream.scorer.server import ScorerDeps, build_server
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1 import scoring_service_pb2, scoring_service_pb2_grpc
from fraudstream.v1.transaction_pb2 import Transaction

LIMIT = 64 * 1024  # the smallest the settings allow


@pytest.fixture
def small_scorer(model_bundle: Path, credentials: Any) -> Iterator[str]:
    deps = ScorerDeps(holder=ModelHolder(load_serving_model(model_bundle)))
    settings = ScorerSettings(
        host="127.0.0.1",
        port=0,
        learner_addr="",
        max_message_bytes=LIMIT,
        analyst_tokens_file=credentials.tokens_file,
    )  # type: ignore[call-arg]
    service = build_server(settings, deps)
    service.start()
    yield f"127.0.0.1:{service.port}"
    service.stop(0)


def _transaction(event_id: str, name_bytes: int = 8) -> Transaction:
    return Transaction(
        event_id=event_id,
        step=1,
        type=4,
        amount=181.0,
        name_orig="C" + "1" * name_bytes,
        old_balance_orig=181.0,
        new_balance_orig=0.0,
        name_dest="C2",
    )


def test_a_request_over_the_limit_is_refused_and_the_server_keeps_answering(
    small_scorer, credentials
):
    with credentials.transport("admin").channel(small_scorer) as channel:
        stub = scoring_service_pb2_grpc.ScoringServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Score(
                scoring_service_pb2.ScoreRequest(transactions=[_transaction("big", 2 * LIMIT)]),
                timeout=10,
            )
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

        # A stream whose one request is too large fails; a new stream of small ones is scored.
        big = scoring_service_pb2.StreamScoresRequest(
            batch_id="b-big", transactions=[_transaction(f"e{i}", 1024) for i in range(100)]
        )
        assert big.ByteSize() > LIMIT
        with pytest.raises(grpc.RpcError) as stream_refused:
            list(stub.StreamScores(iter([big]), timeout=10))
        assert stream_refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

        small = scoring_service_pb2.StreamScoresRequest(
            batch_id="b-small", transactions=[_transaction(f"s{i}") for i in range(100)]
        )
        [answer] = list(stub.StreamScores(iter([small]), timeout=10))
        assert answer.batch_id == "b-small" and len(answer.scores) == 100
        scored = stub.Score(scoring_service_pb2.ScoreRequest(transactions=[_transaction("ok")]))
        [score] = scored.scores
        assert score.event_id == "ok" and 0.0 <= score.risk <= 1.0
