"""Kafka topic names fixed by DESIGN.md, shared by the CLI, the services and the tests."""

from __future__ import annotations

TRANSACTIONS = "transactions"
TRANSACTIONS_SCORED = "transactions.scored"
FRAUD_ALERTS = "fraud.alerts"
FRAUD_LABELS = "fraud.labels"
TRANSACTIONS_DLQ = "transactions.dlq"

# Every topic the pipeline uses, in data-flow order; `fraudstream kafka start`
# and the test fixtures create exactly these.
TOPICS: tuple[str, ...] = (
    TRANSACTIONS,
    TRANSACTIONS_SCORED,
    FRAUD_ALERTS,
    FRAUD_LABELS,
    TRANSACTIONS_DLQ,
)
