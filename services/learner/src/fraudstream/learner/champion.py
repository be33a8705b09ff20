"""The champion's changes: promotion, rollback, and the watch that rolls back automatically."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict

from fraudstream.common.errors import NotFound
from fraudstream.learner.challenger import Challenger
from fraudstream.learner.config import Baseline, LearnerConfig
from fraudstream.learner.guardrail import Judgement
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.promotion import RollbackRule
from fraudstream.learner.rollback import (
    OPERATOR,
    PRECISION_DROP,
    RollbackRecord,
    RollbackWatch,
    next_check,
    outgoing_precision_low,
    restored_model,
    rollback_target,
    watch_after_promotion,
)
from fraudstream.learner.store import LearnerState, SnapshotStore
from fraudstream.learner.window import PrequentialWindow, snapshot_metrics
from fraudstream.model.linear import LinearModel
from fraudstream.model.scores import Thresholds
from fraudstream.model.signing import Signer
from fraudstream.model.snapshot import snapshot_of, thresholds_from_snapshot
from fraudstream.v1 import model_pb2

logger = logging.getLogger(__name__)


class ChampionChanges:
    """Promotion, rollback and the automatic rollback watch, as part of the Learner.

    Every method runs under the learner's lock and changes only its state in memory; the
    learner saves the state and then announces the snapshot returned.
    """

    baseline: Baseline
    signer: Signer | None
    _state: LearnerState
    _snapshot: model_pb2.ModelSnapshot | None
    _champion: LinearModel
    _challenger: Challenger
    _window: PrequentialWindow
    _store: SnapshotStore
    _config: LearnerConfig
    _metrics: LearnerMetrics
    _rollback_rule: RollbackRule
    _clock: Callable[[], float]

    @property
    def serving_thresholds(self) -> Thresholds:
        """The champion's REVIEW and BLOCK thresholds (a promotion may have recalibrated them)."""
        snapshot = self._snapshot
        return self.baseline.thresholds if snapshot is None else thresholds_from_snapshot(snapshot)

    def _watch(self) -> model_pb2.ModelSnapshot | None:
        """After a promotion, once per rollback_min_labels new labels: roll back if the
        promoted model's IPW precision fell below the previous champion's lower bound.
        Returns the rollback's snapshot, if it rolled back."""
        state = self._state
        watch = RollbackWatch.of(state.rollback_watch)
        if watch is None or state.labels_since_promotion < watch.next_check:
            return None
        every = self._config.rollback_min_labels
        state.rollback_watch = {
            **asdict(watch),
            "next_check": next_check(watch, state.labels_since_promotion, every),
        }
        sample = self._window.sample(self.serving_thresholds, since_promotion=True)
        judgement = self._rollback_rule.judge(sample, -math.inf, watch.previous_precision_low)
        state.last_judgement = f"rollback check: {judgement.reason}"
        logger.info("rollback check of v%d: %s", state.champion_version, judgement.reason)
        if not judgement.rollback:
            return None
        logger.warning(
            "automatic rollback of v%d: %s",
            state.champion_version,
            judgement.reason,
            extra={"version": state.champion_version, "reason": PRECISION_DROP},
        )
        try:
            snapshot, _ = self._roll_back(watch.previous_version, judgement.reason, True)
        except NotFound as exc:
            logger.error("cannot roll back automatically: %s", exc)
            state.rollback_watch = None
            return None
        return snapshot

    def _promote(self, judgement: Judgement) -> model_pb2.ModelSnapshot:
        state = self._state
        linear = self._challenger.linear()
        now = self._clock()
        previous = state.champion_version
        # Measured before the window hands the champion's record to the challenger.
        previous_low = outgoing_precision_low(
            judgement.evidence, self._window.sample(self.serving_thresholds), self._rollback_rule
        )
        snapshot = self._snapshot_of(
            linear,
            judgement.thresholds or self.serving_thresholds,
            state.learned_position,
            snapshot_metrics(judgement.challenger, judgement.champion),
            now,
        )
        self._champion = linear
        self._window.promote()
        state.promotions += 1
        state.updates_since_promotion = 0
        state.last_promotion_time = now
        state.served_label_time = state.learned_label_time
        state.rollback_watch = watch_after_promotion(
            previous, previous_low, self._rollback_rule.min_labels
        )
        champion, challenger = judgement.champion, judgement.challenger
        logger.info(
            "promoted snapshot v%d (labels up to %d): PR-AUC %.4f vs champion %.4f, "
            "recall %.4f vs %.4f on %d labels; %s",
            snapshot.version,
            state.learned_position,
            challenger.pr_auc,
            champion.pr_auc,
            challenger.recall,
            champion.recall,
            challenger.labels,
            judgement.reason,
            extra={"version": snapshot.version, "label_position": state.learned_position},
        )
        return snapshot

    def _roll_back(
        self, to_version: int | None, reason: str, automatic: bool
    ) -> tuple[model_pb2.ModelSnapshot, RollbackRecord]:
        """Publish `to_version`'s content as the next version; the challenger restarts from it
        and the evidence starts over (its scores describe models no longer serving)."""
        state, baseline = self._state, self.baseline
        current = state.champion_version
        target = rollback_target(state, to_version)
        restored = restored_model(self._store, baseline.classifier, baseline.thresholds, target)
        now = self._clock()
        snapshot = self._snapshot_of(
            restored.classifier, restored.thresholds, restored.label_position, restored.metrics, now
        )
        self._champion = restored.classifier
        self._challenger.set_weights(
            restored.classifier.coefficients, restored.classifier.intercept
        )
        self._window.clear()
        record = RollbackRecord(snapshot.version, current, target, reason, automatic, now)
        state.rollbacks += 1
        state.last_rollback = asdict(record)
        state.updates_since_promotion = 0
        state.rollback_watch = state.evidence = None
        self._metrics.rollbacks.labels(PRECISION_DROP if automatic else OPERATOR).inc()
        logger.warning(
            "rolled back v%d to v%d's model as v%d: %s",
            current,
            target,
            snapshot.version,
            reason,
            extra={"version": snapshot.version, "rolled_back_from": current},
        )
        return snapshot, record

    def _snapshot_of(
        self,
        classifier: LinearModel,
        thresholds: Thresholds,
        label_position: int,
        metrics: model_pb2.SnapshotMetrics | None,
        now: float,
    ) -> model_pb2.ModelSnapshot:
        """Seal, sign and save the next snapshot version; it becomes the champion's."""
        state = self._state
        snapshot = snapshot_of(
            classifier,
            thresholds,
            version=state.champion_version + 1,
            bundle_version=self.baseline.bundle_version,
            feature_schema_hash=self.baseline.feature_schema_hash,
            label_position=label_position,
            metrics=metrics,
            created_time=now,
            signer=self.signer,
        )
        self._store.save_snapshot(snapshot)
        self._snapshot = snapshot
        state.champion_version = snapshot.version
        # Only versions whose snapshot file is still kept can be restored.
        kept = self._store.keep_snapshots
        state.served_versions = [*state.served_versions, snapshot.version][-kept:]
        state.labels_since_promotion = 0
        return snapshot
