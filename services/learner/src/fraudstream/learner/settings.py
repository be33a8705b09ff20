"""Settings of the learner service (flags and FRAUDSTREAM_* environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fraudstream.common import names
from fraudstream.common.settings import CommaList, ServiceSettings


class LearnerSettings(ServiceSettings):
    """Learner service: online updates from labels, guarded promotion, snapshots to scorers."""

    port: int = Field(names.LEARNER_PORT, ge=0, le=65535, description="gRPC port.")
    metrics_port: int = Field(
        names.LEARNER_METRICS_PORT, ge=0, le=65535, description="Prometheus /metrics port."
    )

    models: Path = Field(
        Path("models"), description="Model bundle directory the learner starts from."
    )
    data_dir: Path = Field(
        Path("var"),
        description="Durable state directory; the learner keeps its snapshots and label "
        "position under <data_dir>/learner/<bundle version>/.",
    )
    model_signing_key: Path | None = Field(
        None,
        description="Ed25519 private key (PEM) that signs promoted snapshots "
        "(`fraudstream certs` writes model-signing.key).",
    )
    model_verify_keys: CommaList = Field(
        default_factory=list,
        description="Ed25519 public keys (PEM paths, comma-separated) trusted to sign the "
        "bundle; set: an unsigned or mis-signed bundle is refused.",
    )
    feedback_addr: str = Field(
        names.FEEDBACK_ADDR,
        description="Feedback service address (StreamLabels); empty: consume no labels.",
    )
    batch_size: int = Field(
        32, ge=1, le=4096, description="Labels per partial_fit update of the challenger."
    )
    window_size: int = Field(
        1000,
        ge=10,
        description="Recent labels the guardrail compares champion and challenger on.",
    )
    promotion_rule: Literal["evidence", "margin"] = Field(
        "evidence",
        description="evidence: promote only when IPW precision and recall on the whole traffic "
        "show the challenger is not worse (docs/learning.md); margin: the older prequential "
        "window test (PR-AUC and recall on the labels, within promotion_margin).",
    )
    audit_sample_rate: float = Field(
        0.002,
        gt=0.0,
        le=1.0,
        description="Selection probability of audit labels that do not carry their own (labels "
        "written before ingest recorded it); set it to ingest's audit_sample_rate.",
    )
    promotion_confidence: float = Field(
        0.95, gt=0.5, lt=1.0, description="Confidence of the promotion and rollback intervals."
    )
    evidence_margin: float = Field(
        0.002,
        ge=0.0,
        le=1.0,
        description="How far below 0 the lower bounds of the challenger-minus-champion IPW "
        "precision and recall differences may lie for a promotion (the non-inferiority "
        "margin: 0.002 is 0.2 points; 0 demands a bound of exactly 0 or better).",
    )
    promotion_min_labels: int = Field(
        0,
        ge=0,
        description="Labels of any kind since the last promotion before the evidence is "
        "judged (0: no floor beyond the per-estimate minimums below).",
    )
    promotion_min_frauds: int = Field(
        20, ge=1, description="FRAUD labels since the last promotion before it is judged."
    )
    promotion_min_flagged: int = Field(
        20,
        ge=1,
        description="Labels the champion or the challenger flagged (REVIEW or BLOCK) since "
        "the last promotion before it is judged: the denominators of their IPW precision.",
    )
    promotion_min_audits: int = Field(
        20,
        ge=0,
        description="Audit labels since the last promotion before it is judged (a weak screen "
        "of the traffic nobody alerted; the rollback watch sees every alert of a promoted "
        "model).",
    )
    judge_every: int = Field(
        100, ge=1, description="New labels between two promotion judgements on the evidence."
    )
    rollback_min_labels: int = Field(
        100,
        ge=1,
        description="Labels after a promotion before the automatic rollback rule judges, and "
        "between two of its judgements.",
    )
    rollback_min_flagged: int = Field(
        30, ge=1, description="Flagged labels after a promotion before the rollback rule judges."
    )
    promotion_margin: float = Field(
        0.02,
        ge=0.0,
        le=1.0,
        description="How much lower than the champion's the challenger's window PR-AUC and "
        "recall at the REVIEW threshold may be for it to still be promoted.",
    )
    min_window_labels: int = Field(
        50, ge=1, description="Labels the window must hold before any promotion."
    )
    min_window_frauds: int = Field(
        5, ge=1, description="FRAUD labels the window must hold before any promotion."
    )
    learning_rate: float = Field(
        1.0,
        gt=0.0,
        description="Constant SGD step size (scikit-learn eta0), in the bundle's "
        "standardised input space. The offline classifier's log-odds run into the hundreds, "
        "so steps much below 1 barely move it.",
    )
    l2_penalty: float = Field(
        1e-5, ge=0.0, description="L2 regularisation of the SGD updates (scikit-learn alpha)."
    )
    max_class_weight: float = Field(
        50.0,
        ge=1.0,
        description="Cap on the class weight that balances FRAUD and LEGIT labels "
        "(weights are n / (2 * n_class) over all labels seen).",
    )
    challenger_publish_every: int = Field(
        10,
        ge=0,
        description="Push the challenger to the scorers for shadow scoring after every this "
        "many updates (0: never); scorers record its risk and decision beside the served one.",
    )
    feedback_retry_seconds: float = Field(
        0.5, gt=0.0, description="First wait before reconnecting to the feedback service."
    )
    feedback_max_retry_seconds: float = Field(
        15.0, gt=0.0, description="Longest wait between reconnects to the feedback service."
    )
    stall_seconds: float = Field(
        60.0,
        gt=0.0,
        description="Applying the labels after one position failing this long, with none "
        "applied meanwhile, turns health NOT_SERVING (stalled).",
    )

    @model_validator(mode="after")
    def _window_can_promote(self) -> LearnerSettings:
        if self.min_window_labels > self.window_size:
            raise ValueError(
                f"min_window_labels ({self.min_window_labels}) exceeds window_size "
                f"({self.window_size}): nothing could ever be promoted"
            )
        if self.promotion_rule == "evidence" and self.promotion_min_labels > self.window_size:
            raise ValueError(
                f"promotion_min_labels ({self.promotion_min_labels}) exceeds window_size "
                f"({self.window_size}): nothing could ever be promoted"
            )
        if self.min_window_frauds > self.min_window_labels:
            raise ValueError("min_window_frauds must not exceed min_window_labels")
        return self

    @property
    def state_root(self) -> Path:
        """Where the learner's durable state lives (one subdirectory per bundle version)."""
        return self.data_dir / "learner"
