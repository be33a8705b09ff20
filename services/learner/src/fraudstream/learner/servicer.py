"""gRPC adapter of the learner service: translates between protobuf and the domain core."""

from __future__ import annotations

from typing import Any

import grpc

from fraudstream.v1 import learner_service_pb2_grpc

_NOT_YET = "LearnerService.{rpc} is not implemented yet (issue #6)"


class LearnerServiceServicer(learner_service_pb2_grpc.LearnerServiceServicer):
    """LearnerService: every RPC answers UNIMPLEMENTED until issue #6 lands."""

    def SyncModels(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format(rpc="SyncModels"))

    def GetLearnerStatus(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format(rpc="GetLearnerStatus"))
