"""The scorer's side of LearnerService.SyncModels: apply each newer snapshot, ack, reconnect."""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Iterator

import grpc

from fraudstream.model.snapshot import SnapshotRejected
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.models import ModelHolder
from fraudstream.v1 import learner_service_pb2, learner_service_pb2_grpc
from fraudstream.v1.model_pb2 import ModelSnapshot

logger = logging.getLogger(__name__)

_END = None  # ends the request stream of one connection


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
    ) -> None:
        self.address = address
        self.scorer_id = scorer_id
        self._holder = holder
        self._metrics = metrics
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._stop = threading.Event()
        self._call: grpc.Future | None = None
        self._thread = threading.Thread(target=self._run, name="sync-models", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(timeout=5)

    def apply(self, snapshot: ModelSnapshot) -> learner_service_pb2.SnapshotAck:
        """Apply one pushed snapshot; the ack says applied, or rejected with the reason."""
        try:
            model = self._holder.apply_snapshot(snapshot)
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

    def _run(self) -> None:
        backoff = self._initial_backoff
        failures = 0
        while not self._stop.is_set():
            model = self._holder.current
            if model is None:
                self._stop.wait(0.5)
                continue
            outbox: queue.Queue[learner_service_pb2.SyncModelsRequest | None] = queue.Queue()
            outbox.put(
                learner_service_pb2.SyncModelsRequest(
                    hello=learner_service_pb2.SyncHello(
                        scorer_id=self.scorer_id,
                        snapshot_version=model.snapshot_version,
                        feature_schema_hash=model.ensemble.feature_schema_hash,
                        bundle_version=model.bundle_version,
                    )
                )
            )
            try:
                with grpc.insecure_channel(self.address) as channel:
                    stub = learner_service_pb2_grpc.LearnerServiceStub(channel)
                    call = stub.SyncModels(_drain(outbox))
                    self._call = call  # type: ignore[assignment]
                    call.initial_metadata()  # type: ignore[attr-defined]
                    self._metrics.learner_connected.set(1)
                    logger.info("SyncModels stream open to learner %s", self.address)
                    failures, backoff = 0, self._initial_backoff
                    for response in call:
                        outbox.put(
                            learner_service_pb2.SyncModelsRequest(ack=self.apply(response.snapshot))
                        )
            except grpc.RpcError as exc:
                if not self._stop.is_set():
                    failures += 1
                    log = logger.warning if failures == 1 else logger.debug
                    log("learner %s unreachable (%s); retrying", self.address, exc.code())  # type: ignore[attr-defined]
            finally:
                outbox.put(_END)
                self._call = None
                self._metrics.learner_connected.set(0)
            # Full jitter keeps a fleet of scorers from reconnecting in step.
            self._stop.wait(random.uniform(0, backoff))
            backoff = min(backoff * 2, self._max_backoff)


def _drain(
    outbox: queue.Queue[learner_service_pb2.SyncModelsRequest | None],
) -> Iterator[learner_service_pb2.SyncModelsRequest]:
    while (request := outbox.get()) is not _END:
        yield request
