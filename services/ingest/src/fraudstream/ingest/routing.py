"""Where each event of a scored batch goes: scores, alerts, audit cases and dead letters.

`route` is a pure function of the batch and its scores: it decides, it produces nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from fraudstream.common import names
from fraudstream.ingest.batch import Batch, Source
from fraudstream.v1 import alert_pb2, score_pb2
from fraudstream.v1.transaction_pb2 import Transaction

ALERT_DECISIONS = (score_pb2.DECISION_REVIEW, score_pb2.DECISION_BLOCK)
# Dead-letter reason of a transaction the scorer failed whenever it was in a request.
UNSCORABLE = "unscorable"

Headers = list[tuple[str, str | bytes | None]]


@dataclass(frozen=True)
class Routes:
    """The topics the bridge reads and writes (docs/architecture.md's names unless configured)."""

    transactions: str = names.TRANSACTIONS
    scored: str = names.TRANSACTIONS_SCORED
    alerts: str = names.FRAUD_ALERTS
    dlq: str = names.TRANSACTIONS_DLQ


@dataclass(frozen=True)
class Unscorable:
    """In place of a score: the scorer failed this transaction even alone (`message`: why)."""

    message: str


@dataclass(frozen=True)
class Outgoing:
    """One message to produce."""

    topic: str
    key: bytes | str | None
    value: bytes
    headers: Headers | None = None


@dataclass
class Outcomes:
    """What one batch produces and reports.

    `cases` are the alerts and audit cases for the feedback service; `dead_letter_reasons` and
    `flagged` (REVIEW or BLOCK decisions) are what the metrics count.
    """

    messages: list[Outgoing] = field(default_factory=list)
    cases: list[alert_pb2.Alert] = field(default_factory=list)
    dead_letter_reasons: list[str] = field(default_factory=list)
    flagged: int = 0

    def per_topic(self) -> Counter[str]:
        return Counter(message.topic for message in self.messages)


def dead_letter_headers(reason: str, message: str, source: Source) -> Headers:
    """Headers of a dead letter: why, and where the original message was."""
    topic, partition, offset = source
    return [
        ("dlq.reason", reason.encode()),
        ("dlq.message", message.encode()),
        ("dlq.source.topic", topic.encode()),
        ("dlq.source.partition", str(partition).encode()),
        ("dlq.source.offset", str(offset).encode()),
    ]


def route(
    batch: Batch,
    scores: Sequence[score_pb2.Score | Unscorable],
    routes: Routes = Routes(),
    audit: Sequence[bool] | None = None,
    audit_rate: float = 0.0,
) -> Outcomes:
    """The outcomes of `batch` given its scores (one per transaction, in order).

    Every score goes to `routes.scored`; REVIEW and BLOCK also go to `routes.alerts` and to the
    feedback service; an ALLOW whose `audit` draw is true goes to the feedback service as an
    audit case with selection probability `audit_rate`. Rejected messages and transactions
    without a score go to `routes.dlq`.
    """
    if len(scores) != len(batch.transactions):
        raise ValueError(
            f"{len(scores)} scores for the {len(batch.transactions)} transactions of "
            f"batch {batch.batch_id}"
        )
    outcomes = Outcomes()

    def dead_letter(
        reason: str, message: str, source: Source, key: bytes | str | None, value: bytes
    ) -> None:
        outcomes.dead_letter_reasons.append(reason)
        headers = dead_letter_headers(reason, message, source)
        outcomes.messages.append(Outgoing(routes.dlq, key, value, headers))

    for rejected in batch.rejected:
        dead_letter(
            rejected.reason, rejected.message, rejected.source, rejected.key, rejected.value
        )
    for index, (transaction, score) in enumerate(zip(batch.transactions, scores, strict=True)):
        source = batch.sources[index]
        if isinstance(score, Unscorable):
            value = transaction.SerializeToString()
            dead_letter(UNSCORABLE, score.message, source, transaction.name_orig, value)
            continue
        if score.HasField("error"):
            reason = f"invalid_{score.error.field or 'transaction'}"
            value = transaction.SerializeToString()
            dead_letter(reason, score.error.message, source, transaction.name_orig, value)
            continue
        outcomes.messages.append(Outgoing(routes.scored, score.event_id, score.SerializeToString()))
        if score.decision in ALERT_DECISIONS:
            outcomes.flagged += 1
            alert = _case(transaction, score, alert_pb2.ALERT_KIND_ALERT)
            outcomes.messages.append(
                Outgoing(routes.alerts, score.event_id, alert.SerializeToString())
            )
            outcomes.cases.append(alert)
        elif audit is not None and audit[index]:
            audit_case = _case(transaction, score, alert_pb2.ALERT_KIND_AUDIT)
            audit_case.selection_probability = audit_rate
            outcomes.cases.append(audit_case)
    return outcomes


def _case(
    transaction: Transaction, score: score_pb2.Score, kind: alert_pb2.AlertKind.ValueType
) -> alert_pb2.Alert:
    # Every REVIEW/BLOCK is sent: an alert's selection probability is 1 (audits override it).
    alert = alert_pb2.Alert(
        transaction=transaction, score=score, kind=kind, selection_probability=1.0
    )
    alert.alert_time.GetCurrentTime()
    return alert
