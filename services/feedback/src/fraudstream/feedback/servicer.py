"""gRPC adapter of the feedback service: translates between protobuf and the domain core."""

from __future__ import annotations

from typing import Any

import grpc

from fraudstream.v1 import feedback_service_pb2_grpc

_NOT_YET = "FeedbackService.{rpc} is not implemented yet (issue #6)"


class FeedbackServiceServicer(feedback_service_pb2_grpc.FeedbackServiceServicer):
    """FeedbackService: every RPC answers UNIMPLEMENTED until issue #6 lands."""

    def ReportAlerts(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format(rpc="ReportAlerts"))

    def Review(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format(rpc="Review"))

    def SubmitLabel(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format(rpc="SubmitLabel"))

    def ListAlerts(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format(rpc="ListAlerts"))

    def StreamLabels(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_YET.format(rpc="StreamLabels"))
