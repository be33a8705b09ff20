"""Fixed names of the pipeline: Kafka topics, ports, default addresses (docs/architecture.md)."""

from __future__ import annotations

# --- Kafka topics ----------------------------------------------------------------------------
TRANSACTIONS = "transactions"
TRANSACTIONS_SCORED = "transactions.scored"
FRAUD_ALERTS = "fraud.alerts"
FRAUD_LABELS = "fraud.labels"
TRANSACTIONS_DLQ = "transactions.dlq"
# Written by the Flink account-feature job (docs/flink.md), which creates it on start.
TRANSACTIONS_ENRICHED = "transactions.enriched"

# Every topic the pipeline uses, in data-flow order; `fraudstream kafka start`
# and the test fixtures create exactly these.
TOPICS: tuple[str, ...] = (
    TRANSACTIONS,
    TRANSACTIONS_SCORED,
    FRAUD_ALERTS,
    FRAUD_LABELS,
    TRANSACTIONS_DLQ,
)

# --- ports ---------------------------------------------------------------------------------
# gRPC port and Prometheus /metrics port of each service.
SCORER_PORT, SCORER_METRICS_PORT = 50051, 9101
FEEDBACK_PORT, FEEDBACK_METRICS_PORT = 50052, 9102
LEARNER_PORT, LEARNER_METRICS_PORT = 50053, 9103
INGEST_PORT, INGEST_METRICS_PORT = 50054, 9104
# The analyst console speaks HTTP, not gRPC: its pages on CONSOLE_PORT.
CONSOLE_PORT, CONSOLE_METRICS_PORT = 8080, 9105

GRPC_PORTS: dict[str, int] = {
    "scorer": SCORER_PORT,
    "feedback": FEEDBACK_PORT,
    "learner": LEARNER_PORT,
    "ingest": INGEST_PORT,
}
METRICS_PORTS: dict[str, int] = {
    "scorer": SCORER_METRICS_PORT,
    "feedback": FEEDBACK_METRICS_PORT,
    "learner": LEARNER_METRICS_PORT,
    "ingest": INGEST_METRICS_PORT,
}

KAFKA_PORT = 9092
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000

# Default addresses clients use (overridden by FRAUDSTREAM_*_ADDR and flags).
KAFKA_BOOTSTRAP = f"localhost:{KAFKA_PORT}"
SCORER_ADDR = f"localhost:{SCORER_PORT}"
FEEDBACK_ADDR = f"localhost:{FEEDBACK_PORT}"
LEARNER_ADDR = f"localhost:{LEARNER_PORT}"
INGEST_ADDR = f"localhost:{INGEST_PORT}"

# The model signing key pair's file names (`fraudstream certs` writes them): training and the
# learner sign with the private key, scorers and the learner verify with the public one.
MODEL_SIGNING_KEY_FILE = "model-signing.key"
MODEL_VERIFY_KEY_FILE = "model-signing.pub"
