"""The learner's start: its saved state for this bundle, or a fresh one from the bundle."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fraudstream.learner.challenger import Challenger
from fraudstream.learner.config import Baseline, LearnerConfig
from fraudstream.learner.store import LearnerState, SnapshotStore
from fraudstream.learner.window import PrequentialWindow
from fraudstream.model.linear import LinearModel
from fraudstream.model.snapshot import linear_from_snapshot
from fraudstream.v1 import model_pb2

logger = logging.getLogger(__name__)


@dataclass
class Resumed:
    """What the learner works on: its state, champion (and its snapshot), challenger, window."""

    state: LearnerState
    snapshot: model_pb2.ModelSnapshot | None
    champion: LinearModel
    challenger: Challenger
    window: PrequentialWindow


def resume(store: SnapshotStore, baseline: Baseline, config: LearnerConfig) -> Resumed:
    """Load the saved state, or start from the bundle's classifier at label position 0."""
    state = saved = store.load_state(baseline.bundle_version)
    if state is None:
        logger.info("no saved state in %s: starting from the bundle's classifier", store.directory)
        state = LearnerState.start(
            baseline.bundle_version, baseline.feature_schema_hash, baseline.classifier
        )
    snapshot = None
    champion = baseline.classifier
    if state.champion_version > 0:
        snapshot = store.load_snapshot(state.champion_version)
        champion = linear_from_snapshot(snapshot)
    if state.served_versions[-1] != state.champion_version:
        state.served_versions.append(state.champion_version)  # saved before it was kept
    challenger = Challenger(champion, config.learning_rate, config.l2_penalty)
    challenger.restore(state.challenger)
    window = PrequentialWindow(config.window_size)
    window.restore(state.window)
    if saved is not None:
        logger.info(
            "resumed at snapshot v%d, label position %d (%d labels seen)",
            state.champion_version,
            state.label_position,
            state.labels_seen,
            extra={"version": state.champion_version, "label_position": state.label_position},
        )
    return Resumed(state, snapshot, champion, challenger, window)
