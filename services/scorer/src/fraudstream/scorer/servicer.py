"""gRPC adapter of the scorer: requests in, the engine scores, wire-encoded responses out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import grpc

from fraudstream.common.errors import FailedPrecondition
from fraudstream.scorer.engine import ScoringEngine
from fraudstream.scorer.model_info import model_info
from fraudstream.scorer.wire import encode_response, encode_scores
from fraudstream.v1 import scoring_service_pb2

logger = logging.getLogger(__name__)

SERVICE_NAME = scoring_service_pb2.DESCRIPTOR.services_by_name["ScoringService"].full_name


class ScoringServiceServicer:
    """ScoringService over a ScoringEngine. StreamScores and Score answer with wire bytes
    (see wire.py), so they are registered with `register`, not the generated helper."""

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
    ) -> Iterator[bytes]:
        # Answer the call at once: the bridge counts an idle stream as connected (and sends
        # this scorer batches) only once it heard from the scorer.
        context.send_initial_metadata(())
        for request in request_iterator:
            batch = self._engine.score(request.transactions)
            yield encode_response(
                encode_scores(batch, request.include_features), field=2, batch_id=request.batch_id
            )
            if self._stopping.is_set() or not context.is_active():
                return

    def Score(
        self, request: scoring_service_pb2.ScoreRequest, context: grpc.ServicerContext
    ) -> bytes:
        batch = self._engine.score(request.transactions)
        return encode_response(encode_scores(batch, request.include_features), field=1)

    def GetModelInfo(
        self, request: scoring_service_pb2.GetModelInfoRequest, context: grpc.ServicerContext
    ) -> scoring_service_pb2.GetModelInfoResponse:
        model = self._engine.holder.current
        if model is None:
            raise FailedPrecondition("no model is loaded yet; the scorer is NOT_SERVING")
        return model_info(model, self._engine.max_batch_size)


def _serialize(response: Any) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()  # type: ignore[no-any-return]


def register(servicer: ScoringServiceServicer, server: grpc.Server) -> None:
    """Add the ScoringService to `server` (same methods and types as the generated helper)."""
    pb = scoring_service_pb2
    handlers = {
        "StreamScores": grpc.stream_stream_rpc_method_handler(
            servicer.StreamScores,
            request_deserializer=pb.StreamScoresRequest.FromString,
            response_serializer=_serialize,
        ),
        "Score": grpc.unary_unary_rpc_method_handler(
            servicer.Score,
            request_deserializer=pb.ScoreRequest.FromString,
            response_serializer=_serialize,
        ),
        "GetModelInfo": grpc.unary_unary_rpc_method_handler(
            servicer.GetModelInfo,
            request_deserializer=pb.GetModelInfoRequest.FromString,
            response_serializer=_serialize,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
