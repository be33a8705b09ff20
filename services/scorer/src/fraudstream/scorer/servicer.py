"""gRPC adapter of the scorer service: translates between protobuf and the domain core."""

from __future__ import annotations

from typing import Any

import grpc

from fraudstream.v1 import scoring_service_pb2_grpc

_NOT_YET = "ScoringService.{rpc} is not implemented yet (issue #4)"


class ScoringServiceServicer(scoring_service_pb2_grpc.ScoringServiceServicer):
    """ScoringService: every RPC answers UNIMPLEMENTED until issue #4 lands."""

    def StreamScores(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format(rpc="StreamScores"))

    def Score(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format(rpc="Score"))

    def GetModelInfo(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format(rpc="GetModelInfo"))
