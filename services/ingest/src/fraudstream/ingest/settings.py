"""Settings of the ingest service (flags and FRAUDSTREAM_* environment variables)."""

from __future__ import annotations

from pydantic import Field

from fraudstream.common.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    """Ingest bridge: consumes transactions from Kafka, scores them, routes scores and alerts."""

    port: int = Field(50054, ge=0, le=65535, description="gRPC port.")
    metrics_port: int = Field(9104, ge=0, le=65535, description="Prometheus /metrics port.")

    kafka_bootstrap: str = Field("localhost:9092", description="Kafka bootstrap servers.")
    scorer_addr: str = Field("localhost:50051", description="Scorer address (StreamScores).")
    feedback_addr: str = Field(
        "localhost:50052", description="Feedback service address (ReportAlerts)."
    )
