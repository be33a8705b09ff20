"""What the learner starts from (the bundle's baseline) and the knobs of learning and promotion."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fraudstream.learner.evidence_guardrail import EvidenceGuardrail
from fraudstream.learner.guardrail import Guardrail, MarginGuardrail
from fraudstream.learner.promotion import PromotionRule, RollbackRule
from fraudstream.learner.settings import LearnerSettings
from fraudstream.model.linear import LinearModel
from fraudstream.model.scores import Thresholds

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
    promotion_rule: str = "evidence"
    promotion_margin: float = 0.02
    min_window_labels: int = 50
    min_window_frauds: int = 5
    learning_rate: float = 1.0
    l2_penalty: float = 1e-5
    max_class_weight: float = 50.0
    audit_sample_rate: float = 0.002
    promotion_confidence: float = 0.95
    evidence_margin: float = 0.002
    promotion_min_labels: int = 0
    promotion_min_frauds: int = 20
    promotion_min_flagged: int = 20
    promotion_min_audits: int = 20
    judge_every: int = 100
    rollback_min_labels: int = 100
    rollback_min_flagged: int = 30

    @classmethod
    def from_settings(cls, settings: LearnerSettings) -> LearnerConfig:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


def guardrail_of(config: LearnerConfig) -> Guardrail:
    """The guardrail `config.promotion_rule` names: "evidence" (PromotionRule on IPW
    estimates of the whole traffic) or "margin" (the prequential window's PR-AUC and recall)."""
    if config.promotion_rule == "margin":
        return MarginGuardrail(
            config.promotion_margin, config.min_window_labels, config.min_window_frauds
        )
    if config.promotion_rule != "evidence":
        raise ValueError(f"promotion_rule {config.promotion_rule!r} is not evidence or margin")
    rule = PromotionRule(
        margin=config.evidence_margin,
        confidence=config.promotion_confidence,
        min_labels=config.promotion_min_labels,
        min_frauds=config.promotion_min_frauds,
        min_flagged=config.promotion_min_flagged,
        min_audits=config.promotion_min_audits,
    )
    return EvidenceGuardrail(rule, config.judge_every)


def rollback_rule_of(config: LearnerConfig) -> RollbackRule:
    """The automatic rollback rule with the configured evidence minimums."""
    return RollbackRule(
        min_labels=config.rollback_min_labels,
        min_flagged=config.rollback_min_flagged,
        confidence=config.promotion_confidence,
    )
