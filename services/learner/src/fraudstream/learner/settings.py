"""Settings of the learner service (flags and FRAUDSTREAM_* environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fraudstream.common.settings import ServiceSettings


class LearnerSettings(ServiceSettings):
    """Learner service: online updates from labels, guarded promotion, snapshots to scorers."""

    port: int = Field(50053, ge=0, le=65535, description="gRPC port.")
    metrics_port: int = Field(9103, ge=0, le=65535, description="Prometheus /metrics port.")

    models: Path = Field(
        Path("models"), description="Model bundle directory the learner starts from."
    )
    data_dir: Path = Field(
        Path("var"), description="Durable state directory (snapshots, label position)."
    )
    feedback_addr: str = Field(
        "localhost:50052", description="Feedback service address (StreamLabels)."
    )
