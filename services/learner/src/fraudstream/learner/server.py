"""Wiring of the learner service: servicer, health, reflection, interceptors, metrics."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import grpc

from fraudstream.common.grpc_server import build_grpc_service
from fraudstream.common.health_watch import watch_health
from fraudstream.common.lifecycle import Service, StopHook, ThreadWorker, Worker
from fraudstream.common.security import server_security
from fraudstream.common.transport import Transport
from fraudstream.learner.config import Baseline, LearnerConfig
from fraudstream.learner.consumer import LabelConsumer
from fraudstream.learner.examples import ExampleReader
from fraudstream.learner.fleet import ScorerRegistry
from fraudstream.learner.learner import Learner
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.policy import POLICY
from fraudstream.learner.progress import LabelProgress
from fraudstream.learner.servicer import LearnerServiceServicer
from fraudstream.learner.settings import LearnerSettings
from fraudstream.learner.shadow import ShadowPublisher
from fraudstream.learner.store import SnapshotStore
from fraudstream.model.bundle import BundleError, load_bundle
from fraudstream.model.compiled import NUMPY
from fraudstream.model.ensemble import ensemble_from_bundle
from fraudstream.model.signing import Signer, Verifier
from fraudstream.model.snapshot import seal
from fraudstream.v1 import learner_service_pb2, learner_service_pb2_grpc, model_pb2

logger = logging.getLogger(__name__)

SERVICE_NAME = learner_service_pb2.DESCRIPTOR.services_by_name["LearnerService"].full_name


@dataclass
class LearnerDeps:
    """What the learner server needs besides its settings."""

    metrics: LearnerMetrics
    learner: Learner
    registry: ScorerRegistry
    reader: ExampleReader

    def label_consumer(
        self, settings: LearnerSettings, progress: LabelProgress
    ) -> LabelConsumer | None:
        """The StreamLabels client for `settings.feedback_addr` (None when it is empty), with
        this process's TLS identity and token."""
        if not settings.feedback_addr:
            return None
        return LabelConsumer(
            settings.feedback_addr,
            self.learner,
            self.reader,
            self.metrics,
            progress,
            initial_backoff=settings.feedback_retry_seconds,
            max_backoff=settings.feedback_max_retry_seconds,
            channel_factory=Transport.from_settings(settings).channel,
        )


def load_baseline(settings: LearnerSettings) -> Baseline:
    """The bundle's classifier and thresholds (BundleError when it has no classifier, or,
    with verify keys, when it is not signed by one of them)."""
    keys = settings.model_verify_keys
    check = None
    if keys:
        verifier = Verifier.from_files(Path(k) for k in keys)
        logger.info("the bundle must be signed by key %s", ", ".join(verifier.key_ids))
        check = verifier.verify_bundle
    # The learner needs only the classifier: the numpy forest spares it the compiled one's
    # build (seconds on a cold cache) before it can serve.
    ensemble = ensemble_from_bundle(load_bundle(settings.models, check, lazy=True), forest=NUMPY)
    if ensemble.classifier is None:
        raise BundleError(f"the bundle in {settings.models} has no classifier to learn on")
    return Baseline(
        bundle_version=ensemble.version,
        feature_schema_hash=ensemble.feature_schema_hash,
        classifier=ensemble.classifier,
        thresholds=ensemble.thresholds,
    )


def _copy(snapshot: model_pb2.ModelSnapshot) -> model_pb2.ModelSnapshot:
    copy = model_pb2.ModelSnapshot()
    copy.CopyFrom(snapshot)
    return copy


def open_deps(settings: LearnerSettings, metrics: LearnerMetrics) -> LearnerDeps:
    """Load the bundle, restore the saved state for it, and connect learner and registry."""
    baseline = load_baseline(settings)
    # One lineage of snapshots per bundle: snapshots of another bundle mean nothing to it.
    lineage = re.sub(r"[^A-Za-z0-9._-]", "_", baseline.bundle_version)
    store = SnapshotStore(settings.state_root / lineage)
    registry = ScorerRegistry(metrics, baseline.bundle_version, baseline.feature_schema_hash)
    signer = Signer.from_file(settings.model_signing_key) if settings.model_signing_key else None
    if signer is None:
        logger.warning(
            "no model signing key: snapshots go out unsigned (scorers that check "
            "signatures will refuse them)"
        )
    learner = Learner(
        baseline, store, LearnerConfig.from_settings(settings), metrics, signer=signer
    )
    learner.set_on_promotion(registry.publish)
    shadow = ShadowPublisher(learner, registry, metrics, settings.challenger_publish_every)
    learner.set_on_batch(shadow.on_batch)
    if (snapshot := learner.champion_snapshot) is not None:
        if signer is not None and snapshot.signing_key_id != signer.key_id:
            # Saved before signing was enabled or with a rotated key: the content is the
            # learner's own durable state, so it is signed again with the current key.
            snapshot = seal(_copy(snapshot), signer)
        registry.publish(snapshot)
    learner.publish_gauges()
    reader = ExampleReader(
        baseline.classifier.input_names,
        baseline.feature_schema_hash,
        baseline.bundle_version,
        settings.audit_sample_rate,
    )
    return LearnerDeps(metrics=metrics, learner=learner, registry=registry, reader=reader)


def build_server(settings: LearnerSettings, deps: LearnerDeps) -> Service:
    """Build the learner service (not started): the server, the label consumer (when a
    feedback address is set) and the scorer streams' stop. Tests call this with port 0.

    It is SERVING once started: its state was restored before, in `open_deps`. Raises
    ValueError for unusable tokens or TLS files.
    """

    def register(server: grpc.Server) -> None:
        learner_service_pb2_grpc.add_LearnerServiceServicer_to_server(
            LearnerServiceServicer(deps.learner, deps.registry), server
        )

    security = server_security(
        settings, POLICY, service="learner", metrics=deps.metrics.grpc.limits
    )
    grpc_service = build_grpc_service(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        service_names=(SERVICE_NAME,),
        register=register,
        metrics=deps.metrics.grpc,
        **security.grpc_options(),
    )
    logger.info("learner security: %s", security.describe())
    # SyncModels streams live as long as their scorer: they end (last) before the drain.
    workers: list[Worker] = [StopHook("scorer-streams", deps.registry.close)]
    progress = LabelProgress(deps.metrics, settings.stall_seconds)
    consumer = deps.label_consumer(settings, progress)
    if consumer is not None:
        workers.append(consumer)
    else:
        logger.warning("no feedback address: the learner consumes no labels")
    service = Service("learner", grpc_service, workers, ready_when_started=True)
    # Added last, stopped first: health stays as the watch left it while the rest stops.
    watch = functools.partial(watch_health, progress.condition, service.set_serving)
    service.add_worker(ThreadWorker("health-watch", watch))
    return service
