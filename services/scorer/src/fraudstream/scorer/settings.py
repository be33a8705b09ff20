"""Settings of the scorer service (flags and FRAUDSTREAM_* environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fraudstream.common import names
from fraudstream.common.settings import CommaList, ServiceSettings


class ScorerSettings(ServiceSettings):
    """Scorer service: scores transaction batches with the model ensemble over gRPC."""

    port: int = Field(names.SCORER_PORT, ge=0, le=65535, description="gRPC port.")
    metrics_port: int = Field(
        names.SCORER_METRICS_PORT, ge=0, le=65535, description="Prometheus /metrics port."
    )

    models: Path = Field(
        Path("models"), description="Model bundle directory (manifest.json and *.joblib)."
    )
    learner_addr: str = Field(
        names.LEARNER_ADDR, description="Learner address for SyncModels (empty: no online updates)."
    )
    scorer_id: str = Field(
        "", description="Name this scorer gives the learner (default: hostname:port)."
    )
    model_retry_seconds: float = Field(
        5.0, gt=0, description="How often to retry loading a missing or damaged bundle."
    )
    max_message_bytes: int = Field(
        16 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest gRPC message: a full batch with feature vectors is a few MB.",
    )
    max_batch_size: int = Field(
        4096, ge=1, description="Largest batch StreamScores and Score accept."
    )
    model_verify_keys: CommaList = Field(
        default_factory=list,
        description="Ed25519 public keys (PEM paths, comma-separated) trusted to sign bundles "
        "and snapshots; set: an unsigned or mis-signed one is refused. Empty: nothing is checked.",
    )
    data_dir: Path = Field(
        Path("var"),
        description="Durable state directory; the scorer keeps the snapshot it serves in "
        "<data_dir>/scorer/<scorer id>/applied.binpb and serves it again after a restart.",
    )
    psi_window: int = Field(
        10_000,
        ge=10,
        description="Transactions per window of the risk PSI: the first window is the "
        "reference, the most recent one is compared with it.",
    )
