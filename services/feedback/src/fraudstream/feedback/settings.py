"""Settings of the feedback service (flags and FRAUDSTREAM_* environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fraudstream.common import names
from fraudstream.common.settings import CommaList, ServiceSettings


class FeedbackSettings(ServiceSettings):
    """Feedback service: stores alerts, serves analyst review, keeps the durable label log."""

    port: int = Field(names.FEEDBACK_PORT, ge=0, le=65535, description="gRPC port.")
    metrics_port: int = Field(
        names.FEEDBACK_METRICS_PORT, ge=0, le=65535, description="Prometheus /metrics port."
    )

    data_dir: Path = Field(
        Path("var"),
        description="Durable state directory; the case store and label log are "
        "<data_dir>/feedback/feedback.db (SQLite, WAL).",
    )
    kafka_bootstrap: str = Field(
        names.KAFKA_BOOTSTRAP, description="Kafka bootstrap servers (labels go to fraud.labels)."
    )
    publish_labels: bool = Field(
        True,
        description="Publish every label to Kafka fraud.labels (off: run without Kafka; "
        "StreamLabels still serves the log).",
    )
    analyst_tokens: CommaList = Field(
        default_factory=list,
        description="Comma-separated bearer tokens allowed to label, in clear (local runs; "
        "the tokens file is the way elsewhere). An entry 'name:token' labels as analyst "
        "'name'; a bare 'token' labels as 'analyst-<sha256 prefix>'.",
    )
    max_message_bytes: int = Field(
        8 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest gRPC message: a ReportAlerts request of full alerts is the largest.",
    )
    label_batch_wait_ms: float = Field(
        250.0,
        ge=0,
        le=10_000,
        description="StreamLabels sends a batch at most this often: a label after a quiet "
        "spell goes at once, labels coming faster wait for the rest of it and go together, so "
        "the learner saves its state and acks once per batch, not per analyst click. At most "
        "this much is added to label-to-served latency (target p99 1 s). 0: every label as "
        "soon as it is recorded.",
    )
    lease_seconds: float = Field(
        300.0,
        gt=0,
        description="How long a case pushed to an analyst stays theirs before it returns "
        "to the queue.",
    )

    @property
    def database_path(self) -> Path:
        """Where the SQLite case store and label log live."""
        return self.data_dir / "feedback" / "feedback.db"
