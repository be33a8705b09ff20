"""Settings of the ingest bridge (flags and FRAUDSTREAM_* environment variables)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field

from fraudstream.common import names
from fraudstream.common.settings import CommaList, ServiceSettings


class IngestSettings(ServiceSettings):
    """Ingest bridge: consumes transactions from Kafka, scores them, routes scores and alerts."""

    port: int = Field(
        names.INGEST_PORT, ge=0, le=65535, description="gRPC port (health and reflection)."
    )
    metrics_port: int = Field(
        names.INGEST_METRICS_PORT, ge=0, le=65535, description="Prometheus /metrics port."
    )

    max_message_bytes: int = Field(
        256 * 1024, ge=64 * 1024, description="Largest gRPC message (it serves health only)."
    )
    kafka_bootstrap: str = Field(
        names.KAFKA_BOOTSTRAP,
        description="Kafka bootstrap servers (TLS/SASL: FRAUDSTREAM_KAFKA_SECURITY_*).",
    )
    group_id: str = Field("fraudstream-ingest", description="Kafka consumer group of the bridges.")
    instance_name: str = Field(
        "bridge",
        min_length=1,
        description="Stable name of this bridge on its host; with the host name it makes the "
        "default --group-instance-id. Two bridges on one host need different names.",
    )
    group_instance_id: str = Field(
        "",
        description="Static group membership id (Kafka group.instance.id): a restarted bridge "
        "with the same id takes its partitions back at once. Two live bridges must never share "
        "one (the broker fences the older, which exits). Empty: <host name>-<instance name>.",
    )
    session_timeout_ms: int = Field(
        10_000,
        ge=6_000,
        le=300_000,
        description="How long the broker waits for a silent bridge before moving its partitions "
        "to the others (see docs/operations.md for the choice).",
    )
    rejoin_seconds: float = Field(
        30.0,
        ge=0,
        description="A bridge that lost its partitions (its session expired while the broker "
        "was away) and got none back for this long replaces its Kafka consumer: librdkafka can "
        "stay stuck on a group coordinator that went away. 0: never.",
    )
    stall_seconds: float = Field(
        30.0,
        gt=0,
        description="With events waiting, this long without routing one turns health "
        "NOT_SERVING (stalled).",
    )
    scorer_addr: CommaList = Field(
        [names.SCORER_ADDR],
        description="Scorer addresses (StreamScores): comma-separated or the flag repeated; "
        "batches go round robin to the connected ones, and a scorer's unanswered batches move "
        "to another when it goes down. dns:///host:port stands for every address the name "
        "resolves to (a Kubernetes headless Service: every ready scorer pod).",
    )
    scorer_resolve_seconds: float = Field(
        30.0, gt=0, description="How often dns:/// scorer addresses are resolved again."
    )
    feedback_addr: str = Field(
        names.FEEDBACK_ADDR,
        description="Feedback address (ReportAlerts); empty: alerts to Kafka only.",
    )
    batch_size: int = Field(512, ge=1, le=4096, description="Most transactions per scored batch.")
    batch_wait_ms: float = Field(
        5.0, ge=0, description="Longest a partial batch waits for more events before it is sent."
    )
    max_in_flight: int = Field(
        64,
        ge=1,
        description="Batches consumed but not yet fully routed; beyond it, fetching pauses. "
        "Batches are routed in order, so this is how much traffic may pass one slow batch (a "
        "feedback ack waiting on a disk): 64 batches is 0.3 s at 5,000 tx/s.",
    )
    max_in_flight_events: int = Field(
        4096,
        ge=1,
        description="Events consumed but not yet fully routed; beyond it, fetching pauses. "
        "Bounds the bridge's memory and the producer's queue when batches are full.",
    )
    producer_linger_ms: float = Field(
        2.0,
        ge=0,
        le=1000,
        description="How long the producer waits to fill a request to the broker (librdkafka "
        "linger.ms): more batches each request, at that cost in latency (docs/performance.md).",
    )
    producer_compression: Literal["none", "lz4", "zstd", "snappy", "gzip"] = Field(
        "lz4", description="Compression of produced scores and alerts (compression.type)."
    )
    audit_sample_rate: float = Field(
        0.002, ge=0, le=1, description="Share of ALLOW decisions sent to analysts as audit cases."
    )
    seed: int = Field(0, description="Seed of the audit sampler (0: a fresh one each start).")
    transactions_topic: str = Field(names.TRANSACTIONS, description="Topic consumed.")
    scored_topic: str = Field(names.TRANSACTIONS_SCORED, description="Topic every score goes to.")
    alerts_topic: str = Field(names.FRAUD_ALERTS, description="Topic REVIEW/BLOCK alerts go to.")
    dlq_topic: str = Field(names.TRANSACTIONS_DLQ, description="Dead-letter topic.")
    account_features: Literal["embedded", "flink", "off"] = Field(
        "off",
        description="Where each transaction's account features come from, for a bundle "
        "trained with them: embedded (an account state per assigned partition, in this "
        "bridge), flink (consume --enriched-topic, which the Flink job writes, instead of "
        "--transactions-topic), or off (none: a bundle with account features then fails "
        "every item closed, dead-lettered with field account_features).",
    )
    enriched_topic: str = Field(
        names.TRANSACTIONS_ENRICHED,
        description="Topic consumed with --account-features flink (transactions plus features).",
    )
    data_dir: Path = Field(
        Path("var"),
        description="Durable state: account state snapshots, saved with the committed offsets, "
        "under <data_dir>/ingest/<group id>/accounts/<topic>-<partition>/.",
    )
    account_max_accounts: int = Field(
        500_000,
        ge=1,
        description="Most accounts held per key and partition; beyond it the least recently "
        "seen is evicted (ingest_account_state_evictions_total).",
    )
    account_snapshot_seconds: float = Field(
        30.0,
        gt=0,
        description="How often the account state is saved (and at every rebalance and stop); "
        "a restart replays at most this much into the state, without scoring it again.",
    )
    reconnect_max_seconds: float = Field(
        0.5,
        gt=0,
        description="Longest wait between reconnection attempts to scorer or feedback: it "
        "bounds how long after a restarted peer is back the bridge still waits (an attempt "
        "to a peer that is down costs one refused connection).",
    )

    def consumed_topic(self) -> str:
        """The topic the bridge consumes: the Flink job's enriched one, or the transactions."""
        return self.enriched_topic if self.account_features == "flink" else self.transactions_topic

    def account_state_dir(self) -> Path:
        """Where this group's account snapshots live."""
        return self.data_dir / "ingest" / self.group_id / "accounts"

    def member_id(self) -> str:
        """The group.instance.id this bridge joins with."""
        return self.group_instance_id or f"{socket.gethostname()}-{self.instance_name}"
