"""The learner's core: test-then-train on each label batch, guarded promotion, durable state."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fraudstream.learner.examples import LabelBatch
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.online import (
    Challenger,
    Guardrail,
    Judgement,
    PrequentialWindow,
    WindowMetrics,
    class_weights,
)
from fraudstream.learner.settings import LearnerSettings
from fraudstream.learner.store import SnapshotStore, StateError
from fraudstream.model.ensemble import Thresholds
from fraudstream.model.linear import LinearModel
from fraudstream.model.snapshot import seal
from fraudstream.v1 import model_pb2

logger = logging.getLogger(__name__)

OnPromotion = Callable[[model_pb2.ModelSnapshot, float | None], None]


@dataclass(frozen=True)
class Baseline:
    """What the learner starts from: the bundle's classifier, thresholds and identity."""

    bundle_version: str
    feature_schema_hash: str
    classifier: LinearModel
    thresholds: Thresholds


@dataclass(frozen=True)
class LearnerConfig:
    """The learning and guardrail knobs (see LearnerSettings for what each means)."""

    batch_size: int = 32
    window_size: int = 1000
    promotion_margin: float = 0.02
    min_window_labels: int = 50
    min_window_frauds: int = 5
    learning_rate: float = 1.0
    l2_penalty: float = 1e-5
    max_class_weight: float = 50.0

    @classmethod
    def from_settings(cls, settings: LearnerSettings) -> LearnerConfig:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class LearnerStatus:
    """A consistent picture of the learner (for GetLearnerStatus and tests)."""

    bundle_version: str
    champion_version: int
    label_position: int
    labels_seen: int
    frauds_seen: int
    updates: int
    promotions: int
    refusals: int
    champion: WindowMetrics
    challenger: WindowMetrics
    last_promotion_time: float | None
    last_judgement: str
    refused_examples: dict[str, int] = field(default_factory=dict)


class Learner:
    """Turns label batches into challenger updates and, when the guardrail agrees, snapshots.

    Every batch is first scored by champion and challenger (the prequential window), then
    learned from; the state, label position included, is saved atomically after each batch,
    so a restart resumes from exactly the labels already reflected in the saved model.
    Promoted snapshots are saved before `on_promotion` announces them.
    """

    _version: int
    _snapshot: model_pb2.ModelSnapshot | None
    _champion: LinearModel
    _challenger: Challenger
    _window: PrequentialWindow
    _position: int
    _counts: Counter[str]
    _refused: Counter[str]
    _updates: int
    _updates_since_promotion: int
    _promotions: int
    _refusals: int
    _last_promotion: float | None
    _learned_position: int
    _learned_label_time: float | None
    _served_label_time: float | None
    _last_judgement: str

    def __init__(
        self,
        baseline: Baseline,
        store: SnapshotStore,
        config: LearnerConfig,
        metrics: LearnerMetrics,
        on_promotion: OnPromotion | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.baseline = baseline
        self._store = store
        self._config = config
        self._metrics = metrics
        self._on_promotion = on_promotion
        self._clock = clock
        self._guardrail = Guardrail(
            config.promotion_margin, config.min_window_labels, config.min_window_frauds
        )
        self._lock = threading.RLock()
        self._restore()

    # --- reading -----------------------------------------------------------------

    @property
    def label_position(self) -> int:
        with self._lock:
            return self._position

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

    def status(self) -> LearnerStatus:
        with self._lock:
            champion, challenger = self._window.metrics(self.baseline.thresholds.review)
            return LearnerStatus(
                bundle_version=self.baseline.bundle_version,
                champion_version=self._version,
                label_position=self._position,
                labels_seen=self._counts["fraud"] + self._counts["legit"],
                frauds_seen=self._counts["fraud"],
                updates=self._updates,
                promotions=self._promotions,
                refusals=self._refusals,
                champion=champion,
                challenger=challenger,
                last_promotion_time=self._last_promotion,
                last_judgement=self._last_judgement,
                refused_examples=dict(self._refused),
            )

    # --- learning ----------------------------------------------------------------

    def apply(self, batch: LabelBatch) -> int:
        """Test, then train on `batch`; maybe promote; save. Returns the saved label position.

        A batch at or before the saved position was applied already and is ignored. If the
        state cannot be saved, the learner goes back to its last saved state and re-raises.
        """
        with self._lock:
            if batch.last_position <= self._position:
                return self._position
            updates_before = self._updates
            promotions_before, refusals_before = self._promotions, self._refusals
            try:
                snapshot, _ = self._learn(batch)
                self._store.save_state(self._state())
            except Exception:
                logger.exception(
                    "could not apply labels up to %d; back to the saved state", batch.last_position
                )
                self._restore()
                raise
            position = self._position
            served_label_time = self._served_label_time
            updates = self._updates - updates_before
            promotions = self._promotions - promotions_before
            refusals = self._refusals - refusals_before
        self._publish_metrics(batch, updates, promotions, refusals)
        # Only the newest promotion of a batch is announced: scorers need the latest only.
        if snapshot is not None and self._on_promotion is not None:
            self._on_promotion(snapshot, served_label_time)
        return position

    def _learn(self, batch: LabelBatch) -> tuple[model_pb2.ModelSnapshot | None, Judgement | None]:
        """Per chunk: score with both models, judge the challenger that scored, then train.

        Deciding between scoring and training means a promoted challenger is always the exact
        state whose predictions on the newest labels are in the window: no update is served
        before it has been tested on labels it had not seen.
        """
        size = self._config.batch_size
        promoted: model_pb2.ModelSnapshot | None = None
        judgement: Judgement | None = None
        for start in range(0, len(batch), size):
            inputs = batch.inputs[start : start + size]
            fraud = batch.fraud[start : start + size]
            self._window.add(fraud, self._champion.logit(inputs), self._challenger.logit(inputs))
            judgement = self._judge()
            if judgement.promote:
                promoted = self._promote()
            frauds = int(fraud.sum())
            self._counts["fraud"] += frauds
            self._counts["legit"] += len(fraud) - frauds
            fraud_weight, legit_weight = class_weights(
                self._counts["fraud"], self._counts["legit"], self._config.max_class_weight
            )
            self._challenger.learn(inputs, fraud, np.where(fraud, fraud_weight, legit_weight))
            self._check_challenger()
            self._updates += 1
            self._updates_since_promotion += 1
            self._learned_position = int(batch.positions[start : start + size][-1])
            label_time = float(batch.label_times[start : start + size][-1])
            self._learned_label_time = label_time if math.isfinite(label_time) else None
        self._refused.update(batch.refused)
        self._position = batch.last_position
        return promoted, judgement

    def _judge(self) -> Judgement:
        review = self.baseline.thresholds.review
        champion, challenger = self._window.metrics(review, since_promotion=True)
        judgement = self._guardrail.judge(champion, challenger, self._updates_since_promotion)
        self._last_judgement = judgement.reason
        if judgement.refused:
            self._refusals += 1
            logger.info("challenger not promoted: %s", judgement.reason)
        return judgement

    def _check_challenger(self) -> None:
        try:
            self._challenger.linear()
        except ValueError as exc:
            # A diverged SGD (learning rate far too high) must not poison the next snapshot.
            logger.error("challenger diverged (%s); restarting it from the champion", exc)
            self._challenger.set_weights(self._champion.coefficients, self._champion.intercept)

    def _promote(self) -> model_pb2.ModelSnapshot:
        champion, challenger = self._window.metrics(
            self.baseline.thresholds.review, since_promotion=True
        )
        linear = self._challenger.linear()
        now = self._clock()
        snapshot = _snapshot(
            self.baseline,
            linear,
            self._version + 1,
            self._learned_position,
            now,
            champion,
            challenger,
        )
        self._store.save_snapshot(snapshot)
        self._version = snapshot.version
        self._snapshot = snapshot
        self._champion = linear
        self._window.promote()
        self._promotions += 1
        self._updates_since_promotion = 0
        self._last_promotion = now
        self._served_label_time = self._learned_label_time
        logger.info(
            "promoted snapshot v%d (labels up to %d): PR-AUC %.4f vs champion %.4f, "
            "recall %.4f vs %.4f on %d labels",
            snapshot.version,
            self._learned_position,
            challenger.pr_auc,
            champion.pr_auc,
            challenger.recall,
            champion.recall,
            challenger.labels,
            extra={"version": snapshot.version, "label_position": self._learned_position},
        )
        return snapshot

    # --- state -------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "bundle_version": self.baseline.bundle_version,
            "feature_schema_hash": self.baseline.feature_schema_hash,
            "champion_version": self._version,
            "label_position": self._position,
            "labels_seen": self._counts["fraud"] + self._counts["legit"],
            "labels": dict(self._counts),
            "refused_examples": dict(self._refused),
            "updates": self._updates,
            "updates_since_promotion": self._updates_since_promotion,
            "promotions": self._promotions,
            "refusals": self._refusals,
            "last_promotion_time": self._last_promotion,
            "learned_position": self._learned_position,
            "learned_label_time": self._learned_label_time,
            "served_label_time": self._served_label_time,
            "last_judgement": self._last_judgement,
            "saved_time": self._clock(),
            "challenger": self._challenger.to_dict(),
            "window": self._window.to_dict(),
        }

    def _restore(self) -> None:
        """Load the saved state, or start from the bundle's classifier at label position 0."""
        config = self._config
        self._version = 0
        self._snapshot = None
        self._champion = self.baseline.classifier
        self._position = 0
        self._counts = Counter({"fraud": 0, "legit": 0})
        self._refused = Counter()
        self._updates = self._updates_since_promotion = 0
        self._promotions = self._refusals = 0
        self._last_promotion = None
        self._learned_position = 0
        self._learned_label_time = self._served_label_time = None
        self._last_judgement = ""
        self._window = PrequentialWindow(config.window_size)
        self._challenger = Challenger(self._champion, config.learning_rate, config.l2_penalty)
        state = self._store.load_state()
        if state is None:
            logger.info(
                "no saved state in %s: starting from the bundle's classifier", self._store.directory
            )
            return
        if state["bundle_version"] != self.baseline.bundle_version:
            raise StateError(
                f"{self._store.state_path} belongs to bundle {state['bundle_version']}, "
                f"not {self.baseline.bundle_version}"
            )
        self._version = int(state["champion_version"])
        if self._version > 0:
            self._snapshot = self._store.load_snapshot(self._version)
            self._champion = _linear_of(self._snapshot)
        self._position = int(state["label_position"])
        self._counts.update(state["labels"])
        self._refused.update(state["refused_examples"])
        self._updates = int(state["updates"])
        self._updates_since_promotion = int(state["updates_since_promotion"])
        self._promotions = int(state["promotions"])
        self._refusals = int(state["refusals"])
        self._last_promotion = state["last_promotion_time"]
        self._learned_position = int(state["learned_position"])
        self._learned_label_time = state["learned_label_time"]
        self._served_label_time = state["served_label_time"]
        self._last_judgement = state["last_judgement"]
        self._challenger = Challenger(self._champion, config.learning_rate, config.l2_penalty)
        saved = state["challenger"]
        self._challenger.set_weights(saved["coefficients"], saved["intercept"])
        self._window.restore(state["window"])
        logger.info(
            "resumed at snapshot v%d, label position %d (%d labels seen)",
            self._version,
            self._position,
            self._counts["fraud"] + self._counts["legit"],
            extra={"version": self._version, "label_position": self._position},
        )

    def _publish_metrics(
        self, batch: LabelBatch, updates: int, promotions: int, refusals: int
    ) -> None:
        metrics = self._metrics
        frauds = int(batch.fraud.sum())
        metrics.labels_consumed.labels("fraud").inc(frauds)
        metrics.labels_consumed.labels("legit").inc(len(batch) - frauds)
        for reason, count in batch.refused.items():
            metrics.examples_refused.labels(reason).inc(count)
        metrics.online_updates.inc(updates)
        metrics.promotions.inc(promotions)
        metrics.refusals.inc(refusals)
        self.publish_gauges()

    def publish_gauges(self, status: LearnerStatus | None = None) -> None:
        """Set the gauges from the current state (also at start, after a restore)."""
        status = status or self.status()
        metrics = self._metrics
        for model, measured in (("champion", status.champion), ("challenger", status.challenger)):
            metrics.prequential_pr_auc.labels(model).set(measured.pr_auc)
            metrics.prequential_recall.labels(model).set(measured.recall)
        metrics.window_labels.set(status.challenger.labels)
        metrics.champion_version.set(status.champion_version)
        metrics.label_position.set(status.label_position)
        metrics.last_promotion.set(status.last_promotion_time or 0.0)


def _linear_of(snapshot: model_pb2.ModelSnapshot) -> LinearModel:
    return LinearModel(
        input_names=tuple(snapshot.classifier.input_names),
        mean=np.asarray(snapshot.scaler.mean),
        scale=np.asarray(snapshot.scaler.scale),
        coefficients=np.asarray(snapshot.classifier.coefficients),
        intercept=snapshot.classifier.intercept,
    )


def _snapshot(
    baseline: Baseline,
    linear: LinearModel,
    version: int,
    label_position: int,
    now: float,
    champion: WindowMetrics,
    challenger: WindowMetrics,
) -> model_pb2.ModelSnapshot:
    snapshot = model_pb2.ModelSnapshot(
        version=version,
        bundle_version=baseline.bundle_version,
        feature_schema_hash=baseline.feature_schema_hash,
        scaler=model_pb2.StandardScaler(mean=linear.mean.tolist(), scale=linear.scale.tolist()),
        classifier=model_pb2.LinearModel(
            input_names=list(linear.input_names),
            coefficients=linear.coefficients.tolist(),
            intercept=linear.intercept,
        ),
        thresholds=model_pb2.Thresholds(
            review=baseline.thresholds.review, block=baseline.thresholds.block
        ),
        label_position=label_position,
        metrics=model_pb2.SnapshotMetrics(
            pr_auc=challenger.pr_auc,
            recall=challenger.recall,
            window_size=challenger.labels,
            champion_pr_auc=champion.pr_auc,
        ),
    )
    snapshot.created_time.FromNanoseconds(int(now * 1e9))
    return seal(snapshot)
