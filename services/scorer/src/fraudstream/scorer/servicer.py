"""gRPC adapter of the scorer: translates between protobuf and the scoring engine."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import grpc

from fraudstream.common.errors import FailedPrecondition
from fraudstream.scorer.convert import model_info, to_scores
from fraudstream.scorer.engine import ScoringEngine
from fraudstream.v1 import scoring_service_pb2, scoring_service_pb2_grpc

logger = logging.getLogger(__name__)


class ScoringServiceServicer(scoring_service_pb2_grpc.ScoringServiceServicer):
    """ScoringService over a ScoringEngine."""

    def __init__(self, engine: ScoringEngine) -> None:
        self._engine = engine
        self._stopping = threading.Event()

    def shutdown(self) -> None:
        """Let open StreamScores streams end after the batch in hand (called on SIGTERM)."""
        self._stopping.set()

    def StreamScores(
        self,
        request_iterator: Iterator[scoring_service_pb2.StreamScoresRequest],
        context: grpc.ServicerContext,
    ) -> Iterator[scoring_service_pb2.StreamScoresResponse]:
        for request in request_iterator:
            batch = self._engine.score(request.transactions)
            yield scoring_service_pb2.StreamScoresResponse(
                batch_id=request.batch_id,
                scores=to_scores(batch, request.transactions, request.include_features),
            )
            if self._stopping.is_set() or not context.is_active():
                return

    def Score(
        self, request: scoring_service_pb2.ScoreRequest, context: grpc.ServicerContext
    ) -> scoring_service_pb2.ScoreResponse:
        batch = self._engine.score(request.transactions)
        return scoring_service_pb2.ScoreResponse(
            scores=to_scores(batch, request.transactions, request.include_features)
        )

    def GetModelInfo(
        self, request: scoring_service_pb2.GetModelInfoRequest, context: grpc.ServicerContext
    ) -> scoring_service_pb2.GetModelInfoResponse:
        model = self._engine.holder.current
        if model is None:
            raise FailedPrecondition("no model is loaded yet; the scorer is NOT_SERVING")
        return model_info(model, self._engine.max_batch_size)
