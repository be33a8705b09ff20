"""What the learner starts from (the bundle's baseline) and the knobs of learning and promotion."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fraudstream.learner.settings import LearnerSettings
from fraudstream.model.ensemble import Thresholds
from fraudstream.model.linear import LinearModel

logger = logging.getLogger(__name__)


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
