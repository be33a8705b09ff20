"""The scorer's side of LearnerService.SyncModels: apply each newer snapshot, ack, reconnect."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import grpc

from fraudstream.common.stream import ChannelFactory, ReconnectingStream, insecure_channel
from fraudstream.model.snapshot import SnapshotRejected
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.serving_model import ModelHolder
from fraudstream.v1 import learner_service_pb2, learner_service_pb2_grpc
from fraudstream.v1.model_pb2 import SNAPSHOT_ROLE_CHALLENGER, ModelSnapshot

logger = logging.getLogger(__name__)


class SnapshotSync:
    """Keeps one SyncModels stream open to the learner, in a background thread."""

    def __init__(
        self,
        address: str,
        scorer_id: str,
        holder: ModelHolder,
        metrics: ScorerMetrics,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        channel_factory: ChannelFactory = insecure_channel,
    ) -> None:
        self.address = address
        self.scorer_id = scorer_id
        self._holder = holder
        self._metrics = metrics
        # True from a hello until the first push after it: that push answers the hello.
        self._answering_hello = False
        self._stream: ReconnectingStream[
            learner_service_pb2.SyncModelsRequest, learner_service_pb2.SyncModelsResponse
        ] = ReconnectingStream(
            "sync-models",
            address,
            _open_sync_models,
            self._hello,
            self._on_response,
            on_connected=metrics.learner_connected.set,
            channel_factory=channel_factory,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
        )

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        self._stream.stop()

    def apply(
        self, snapshot: ModelSnapshot, *, replaces_served: bool = False
    ) -> learner_service_pb2.SnapshotAck:
        """Apply one pushed snapshot; the ack says applied, or rejected with the reason.

        `replaces_served`: the snapshot answers this scorer's hello, so it may be older than
        the served one (the learner's champion replacing a snapshot it never made)."""
        try:
            model = self._holder.apply_snapshot(snapshot, replaces_served=replaces_served)
        except SnapshotRejected as exc:
            self._metrics.snapshots_rejected.inc()
            logger.warning("rejected snapshot v%d: %s", snapshot.version, exc)
            return learner_service_pb2.SnapshotAck(
                version=snapshot.version, applied=False, reason=str(exc)
            )
        self._metrics.snapshots_applied.inc()
        self._metrics.model_version.set(model.snapshot_version)
        self._metrics.model_loaded_timestamp.set(model.loaded_at.timestamp())
        logger.info("now serving %s", model.model_version)
        return learner_service_pb2.SnapshotAck(version=snapshot.version, applied=True)

    def apply_challenger(self, snapshot: ModelSnapshot) -> learner_service_pb2.SnapshotAck:
        """Hold one pushed challenger for shadow scoring; it never changes what is served."""
        try:
            challenger = self._holder.apply_challenger(snapshot)
        except SnapshotRejected as exc:
            self._metrics.challengers.labels("rejected").inc()
            logger.warning("rejected challenger v%d: %s", snapshot.version, exc)
            return learner_service_pb2.SnapshotAck(
                version=snapshot.version,
                applied=False,
                reason=str(exc),
                role=SNAPSHOT_ROLE_CHALLENGER,
            )
        self._metrics.challengers.labels("applied").inc()
        self._metrics.challenger_version.set(challenger.snapshot_version)
        logger.info("scoring challenger %s in the shadow", challenger.model_version)
        return learner_service_pb2.SnapshotAck(
            version=snapshot.version, applied=True, role=SNAPSHOT_ROLE_CHALLENGER
        )

    def _hello(self) -> list[learner_service_pb2.SyncModelsRequest] | None:
        """A fresh hello per connection saying what we serve: the learner answers with its
        champion (marked replaces_served) when that differs, then pushes each newer one."""
        model = self._holder.current
        if model is None:
            return None  # nothing loaded yet; ask again shortly
        hello = learner_service_pb2.SyncHello(
            scorer_id=self.scorer_id,
            snapshot_version=model.snapshot_version,
            feature_schema_hash=model.ensemble.feature_schema_hash,
            bundle_version=model.bundle_version,
            snapshot_checksum=model.snapshot_checksum,
        )
        self._answering_hello = True
        return [learner_service_pb2.SyncModelsRequest(hello=hello)]

    def _on_response(
        self, response: learner_service_pb2.SyncModelsResponse
    ) -> list[learner_service_pb2.SyncModelsRequest]:
        if response.HasField("challenger"):
            ack = self.apply_challenger(response.challenger)
            return [learner_service_pb2.SyncModelsRequest(ack=ack)]
        if response.snapshot.role == SNAPSHOT_ROLE_CHALLENGER:
            # A challenger must never be served, whichever field it came in.
            ack = learner_service_pb2.SnapshotAck(
                version=response.snapshot.version,
                applied=False,
                reason="a challenger snapshot was sent as the snapshot to serve",
            )
            return [learner_service_pb2.SyncModelsRequest(ack=ack)]
        # Only the learner's answer to this stream's hello may go back: every later push on
        # the stream follows the monotonic rule, which refuses stale replays.
        answers_hello, self._answering_hello = self._answering_hello, False
        replaces_served = response.replaces_served and answers_hello
        ack = self.apply(response.snapshot, replaces_served=replaces_served)
        return [learner_service_pb2.SyncModelsRequest(ack=ack)]


def _open_sync_models(
    channel: grpc.Channel, requests: Iterator[learner_service_pb2.SyncModelsRequest]
) -> Iterable[learner_service_pb2.SyncModelsResponse]:
    return learner_service_pb2_grpc.LearnerServiceStub(channel).SyncModels(requests)
