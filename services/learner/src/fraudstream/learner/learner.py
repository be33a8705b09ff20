"""The learning loop: test-then-train on each label batch, ask the guardrail, promote."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import numpy as np

from fraudstream.common.errors import DomainError
from fraudstream.learner.challenger import Challenger, example_weights
from fraudstream.learner.champion import ChampionChanges
from fraudstream.learner.config import Baseline, LearnerConfig, guardrail_of, rollback_rule_of
from fraudstream.learner.examples import LabelBatch
from fraudstream.learner.fleet import PROMOTION, ROLLBACK
from fraudstream.learner.guardrail import Guardrail, Judgement
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.resume import resume
from fraudstream.learner.rollback import (
    RollbackRecord,
    estimates_of,
)
from fraudstream.learner.status import LearnerStatus, Tally, count_batch, show_status, status_of
from fraudstream.learner.store import LearnerState, SnapshotStore
from fraudstream.learner.window import PrequentialWindow
from fraudstream.model.linear import LinearModel
from fraudstream.model.signing import Signer
from fraudstream.model.snapshot import seal, snapshot_of
from fraudstream.v1 import model_pb2

logger = logging.getLogger(__name__)
# How long a status request waits for a batch being applied before it answers the last status.
STATUS_WAIT_SECONDS = 0.5

# Announces a new champion snapshot: (snapshot, newest label time or None, kind), kind being
# fleet.PROMOTION or fleet.ROLLBACK.
OnPromotion = Callable[[model_pb2.ModelSnapshot, float | None, str], None]
OnBatch = Callable[[LabelBatch], None]


class Learner(ChampionChanges):
    """Turns label batches into challenger updates and, when the guardrail agrees, snapshots.

    Every batch is first scored by champion and challenger (the prequential window), then
    learned from; the state, label position included, is saved atomically after each batch,
    so a restart resumes from exactly the labels already reflected in the saved model.
    Promoted snapshots are saved before `on_promotion` announces them.
    """

    # The saved state, and the live objects rebuilt from it by _resume().
    _state: LearnerState
    _snapshot: model_pb2.ModelSnapshot | None
    _champion: LinearModel
    _challenger: Challenger
    _window: PrequentialWindow

    def __init__(
        self,
        baseline: Baseline,
        store: SnapshotStore,
        config: LearnerConfig,
        metrics: LearnerMetrics,
        on_promotion: OnPromotion | None = None,
        clock: Callable[[], float] = time.time,
        guardrail: Guardrail | None = None,
        signer: Signer | None = None,
    ) -> None:
        self.baseline = baseline
        # Signs every promoted snapshot; scorers that trust its public key refuse any other.
        self.signer = signer
        self._store = store
        self._config = config
        self._metrics = metrics
        self._on_promotion = on_promotion
        self._clock = clock
        self._guardrail = guardrail or guardrail_of(config)
        self._rollback_rule = rollback_rule_of(config)
        self._lock = threading.RLock()
        self._last_status: LearnerStatus | None = None
        self._resume()

    @property
    def label_position(self) -> int:
        with self._lock:
            return self._state.label_position

    @property
    def champion(self) -> LinearModel:
        with self._lock:
            return self._champion

    @property
    def champion_snapshot(self) -> model_pb2.ModelSnapshot | None:
        """The promoted snapshot being served (None while the bundle's own model is champion)."""
        with self._lock:
            return self._snapshot

    def set_on_promotion(self, on_promotion: OnPromotion | None) -> None:
        self._on_promotion = on_promotion

    # Called after each applied batch, outside the lock (set_on_batch).
    _on_batch: OnBatch | None = None

    def set_on_batch(self, on_batch: OnBatch | None) -> None:
        self._on_batch = on_batch

    def challenger_snapshot(self, after: int = 0) -> tuple[model_pb2.ModelSnapshot | None, int]:
        """The challenger as a sealed (and signed) snapshot of role CHALLENGER, or None before
        `after` updates, and the update count. Its version is the one it would be promoted as;
        its thresholds are the champion's, so the alert rates compare the classifiers alone."""
        with self._lock:
            state = self._state
            if state.updates < after:
                return None, state.updates
            snapshot = snapshot_of(
                self._challenger.linear(),
                self.serving_thresholds,
                version=state.champion_version + 1,
                bundle_version=self.baseline.bundle_version,
                feature_schema_hash=self.baseline.feature_schema_hash,
                label_position=state.learned_position,
                created_time=self._clock(),
            )
            updates = state.updates
        snapshot.role = model_pb2.SNAPSHOT_ROLE_CHALLENGER
        return seal(snapshot, self.signer), updates

    def status(self) -> LearnerStatus:
        """The learner's state now; while a batch holds the learner for longer than
        `STATUS_WAIT_SECONDS` (a first scikit-learn import, a slow disk), the status as of the
        last time it was taken, so GetLearnerStatus and the console never hang behind it."""
        if not self._lock.acquire(timeout=STATUS_WAIT_SECONDS):
            if self._last_status is not None:
                return self._last_status
            self._lock.acquire()
        try:
            champion, challenger = self._window.metrics(self.serving_thresholds.review)
            self._last_status = status_of(self._state, champion, challenger)
            return self._last_status
        finally:
            self._lock.release()

    def rollback(self, to_version: int | None = None, reason: str = "") -> RollbackRecord:
        """Serve `to_version`'s model again (default: the champion before the current one) as
        a NEW snapshot version, saved, then announced like a promotion.

        InvalidArgument for the version serving now or one never promoted, NotFound when
        its snapshot file was pruned, FailedPrecondition when nothing served before.
        """
        with self._lock:
            try:
                snapshot, record = self._roll_back(to_version, reason or "operator request", False)
                self._save()
            except DomainError:
                raise  # refused before anything changed
            except Exception:
                logger.exception("rollback failed; back to the saved state")
                self._resume()
                raise
        self.publish_gauges()
        if self._on_promotion is not None:
            self._on_promotion(snapshot, None, ROLLBACK)
        return record

    def apply(self, batch: LabelBatch) -> int:
        """Test, then train on `batch`; maybe promote; save. Returns the saved label position.

        A batch at or before the saved position was applied already and is ignored. If the
        state cannot be saved, the learner goes back to its last saved state and re-raises.
        """
        with self._lock:
            state = self._state
            if batch.last_position <= state.label_position:
                return state.label_position
            before = Tally.of(state)
            try:
                snapshot = self._learn(batch)
                self._save()
            except Exception:
                logger.exception(
                    "could not apply labels up to %d; back to the saved state", batch.last_position
                )
                self._resume()
                raise
            position, served_label_time = state.label_position, state.served_label_time
            kind = PROMOTION
            # A rollback's content reflects older labels: it has no label-to-served latency.
            rollback = RollbackRecord.of(state.last_rollback)
            if (
                snapshot is not None
                and rollback is not None
                and rollback.version == snapshot.version
            ):
                served_label_time, kind = None, ROLLBACK
            done = Tally.of(state).since(before)
        count_batch(self._metrics, batch, done)
        self.publish_gauges()
        # Only the newest snapshot of a batch is announced: scorers need the latest only.
        if snapshot is not None and self._on_promotion is not None:
            self._on_promotion(snapshot, served_label_time, kind)
        if self._on_batch is not None:  # shadow challenger and label drift (learner/shadow.py)
            self._on_batch(batch)
        return position

    def _learn(self, batch: LabelBatch) -> model_pb2.ModelSnapshot | None:
        """Per chunk: score with both models, judge the challenger that scored, then train.

        Deciding between scoring and training means a promoted challenger is always the exact
        state whose predictions on the newest labels are in the window: no update is served
        before it has been tested on labels it had not seen.
        """
        state = self._state
        promoted: model_pb2.ModelSnapshot | None = None
        for start in range(0, len(batch), self._config.batch_size):
            chunk = slice(start, start + self._config.batch_size)
            inputs, fraud = batch.inputs[chunk], batch.fraud[chunk]
            propensity = batch.propensity[chunk] if batch.propensity.size else None
            audit = batch.audit[chunk] if batch.audit.size else None
            self._window.add(
                fraud,
                self._champion.logit(inputs),
                self._challenger.logit(inputs),
                propensity,
                audit,
            )
            state.labels_since_promotion += len(fraud)
            rolled_back = self._watch()
            if rolled_back is not None:
                promoted = rolled_back
            elif (judgement := self._judge()).promote:
                promoted = self._promote(judgement)
            self._train(inputs, fraud, propensity, audit)
            state.learned_position = int(batch.positions[chunk][-1])
            label_time = float(batch.label_times[chunk][-1])
            state.learned_label_time = label_time if math.isfinite(label_time) else None
        for reason, count in batch.refused.items():
            state.refused_examples[reason] = state.refused_examples.get(reason, 0) + count
        state.label_position = batch.last_position
        return promoted

    def _judge(self) -> Judgement:
        state = self._state
        serving = self.serving_thresholds
        judgement = self._guardrail.judge(self._window, serving, state.updates_since_promotion)
        if not judgement.reason:
            return judgement  # not judged this time
        state.last_judgement = judgement.reason
        where = f"label {self._window.scored} ({self._window.since_promotion} since promotion)"
        logger.info("judgement at %s: %s", where, judgement.reason)
        if judgement.evidence is not None:
            state.evidence = estimates_of(judgement.evidence)
        if judgement.cause:
            outcome = "promote" if judgement.promote else "refuse" if judgement.refused else "wait"
            self._metrics.judgements.labels(outcome, judgement.cause).inc()
        if judgement.refused:
            state.refusals += 1
        return judgement

    def _train(
        self,
        inputs: np.ndarray,
        fraud: np.ndarray,
        propensity: np.ndarray | None,
        audit: np.ndarray | None,
    ) -> None:
        state = self._state
        frauds = int(fraud.sum())
        state.labels["fraud"] += frauds
        state.labels["legit"] += len(fraud) - frauds
        weights = example_weights(
            fraud, propensity, audit, state.labels, self._window.selection(), self._config
        )
        self._challenger.learn(inputs, fraud, weights)
        self._challenger.restart_if_diverged(self._champion)
        state.updates += 1
        state.updates_since_promotion += 1

    def _save(self) -> None:
        state = self._state
        state.challenger = self._challenger.weights()
        state.window = self._window.record()
        state.saved_time = self._clock()
        self._store.save_state(state)

    def _resume(self) -> None:
        """Load the saved state, or start from the bundle's classifier at label position 0."""
        r = resume(self._store, self.baseline, self._config)
        self._state, self._snapshot, self._champion = r.state, r.snapshot, r.champion
        self._challenger, self._window = r.challenger, r.window

    def publish_gauges(self) -> None:
        """Set the gauges from the current state (also at start, after a restore)."""
        show_status(self._metrics, self.status())
