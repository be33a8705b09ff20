"""gRPC adapter of the learner service: translates between protobuf and the domain core."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import grpc

from fraudstream.learner import convert
from fraudstream.learner.fleet import ScorerRegistry, ScorerSession
from fraudstream.learner.learner import Learner
from fraudstream.v1 import learner_service_pb2 as pb
from fraudstream.v1 import learner_service_pb2_grpc

logger = logging.getLogger(__name__)


class LearnerServiceServicer(learner_service_pb2_grpc.LearnerServiceServicer):
    """LearnerService over the learner core and the registry of connected scorers."""

    def __init__(self, learner: Learner, registry: ScorerRegistry) -> None:
        self._learner = learner
        self._registry = registry

    def SyncModels(
        self, request_iterator: Iterator[pb.SyncModelsRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.SyncModelsResponse]:
        hello = convert.hello_of(next(request_iterator, None))
        session = self._registry.connect(hello)
        context.add_callback(session.close)
        # Answer at once: the scorer counts itself connected on it, not on the first push.
        context.send_initial_metadata(())
        threading.Thread(
            target=self._read_acks,
            args=(session, request_iterator),
            name=f"acks-{hello.scorer_id}",
            daemon=True,
        ).start()
        try:
            for push in session.pushes():
                yield pb.SyncModelsResponse(
                    snapshot=push.snapshot, replaces_served=push.replaces_served
                )
        finally:
            self._registry.disconnect(session)

    def GetLearnerStatus(
        self, request: pb.GetLearnerStatusRequest, context: grpc.ServicerContext
    ) -> pb.GetLearnerStatusResponse:
        return convert.status_response(self._learner.status(), self._registry.scorers())

    def Rollback(
        self, request: pb.RollbackRequest, context: grpc.ServicerContext
    ) -> pb.RollbackResponse:
        to_version, reason = convert.rollback_of(request)
        record = self._learner.rollback(to_version, reason)
        return pb.RollbackResponse(rollback=convert.rollback_record(record))

    def _read_acks(self, session: ScorerSession, requests: Iterator[pb.SyncModelsRequest]) -> None:
        try:
            for request in requests:
                if request.WhichOneof("action") == "ack":
                    ack = request.ack
                    self._registry.ack(session, ack.version, ack.applied, ack.reason)
                else:
                    logger.warning(
                        "scorer %s sent a second hello; ignored", session.hello.scorer_id
                    )
        except Exception as exc:  # the scorer's side broke; the RPC ends through its callback
            logger.debug("SyncModels of %s: reading acks stopped: %s", session.hello.scorer_id, exc)
        finally:
            # The scorer half-closed or went away: end the push side too.
            session.close()
