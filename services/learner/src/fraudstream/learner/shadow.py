"""After each label batch: the challenger to the scorers' shadow, and drift of alert precision."""

from __future__ import annotations

import logging

import numpy as np

from fraudstream.learner.examples import LabelBatch
from fraudstream.learner.fleet import ScorerRegistry
from fraudstream.learner.learner import Learner
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.model.drift import PageHinkley
from fraudstream.model.linear import risk_from_logit

logger = logging.getLogger(__name__)


class ShadowPublisher:
    """Publishes the learner's challenger every `every` updates (0: never) and runs a
    Page-Hinkley test on the champion's alert precision: for each labeled transaction the
    champion flags (risk at or above REVIEW), 1 if it was fraud, else 0.

    The detector restarts with the learner (its state is not saved): after a restart it needs
    `min_samples` flagged labels before it can signal again.
    """

    def __init__(
        self,
        learner: Learner,
        registry: ScorerRegistry,
        metrics: LearnerMetrics,
        every: int,
        detector: PageHinkley | None = None,
    ) -> None:
        self._learner = learner
        self._registry = registry
        self._metrics = metrics
        self._every = every
        self._detector = detector if detector is not None else PageHinkley()
        self._published_at: int | None = None

    def on_batch(self, batch: LabelBatch) -> None:
        """The learner's hook: called after each applied batch of labels."""
        self._watch_precision(batch)
        if self._every <= 0:
            return
        due = 0 if self._published_at is None else self._published_at + self._every
        snapshot, updates = self._learner.challenger_snapshot(after=due)
        if snapshot is None:
            return
        self._published_at = updates
        self._registry.publish_challenger(snapshot)
        logger.info(
            "challenger v%d (labels up to %d, %d updates) published for shadow scoring",
            snapshot.version,
            snapshot.label_position,
            updates,
        )

    def _watch_precision(self, batch: LabelBatch) -> None:
        learner = self._learner
        risk = risk_from_logit(learner.champion.logit(batch.inputs))
        flagged = risk >= learner.serving_thresholds.review
        outcomes = np.asarray(batch.fraud, dtype=np.float64)[flagged]
        changes = self._detector.update_many(outcomes)
        if changes:
            self._metrics.label_drift_events.inc(changes)
            logger.warning(
                "the champion's alert precision changed (Page-Hinkley, %d change(s) in a batch "
                "of %d labels)",
                changes,
                len(batch),
            )
        self._metrics.label_drift_statistic.set(self._detector.statistic)
        if self._detector.samples:
            self._metrics.alert_precision.set(self._detector.mean)
