"""One batch of consumed messages: its transactions, the rejected messages, the offsets after it."""

from __future__ import annotations

from dataclasses import dataclass, field

from fraudstream.v1.transaction_pb2 import Transaction

TopicPartition = tuple[str, int]
# Where a message was consumed: topic, partition, offset.
Source = tuple[str, int, int]


@dataclass(frozen=True)
class Rejected:
    """A consumed message that is not a transaction (it goes to the dead-letter topic)."""

    source: Source
    key: bytes | None
    value: bytes
    reason: str
    message: str


@dataclass(eq=False)
class Batch:
    """Consecutive messages consumed together and scored as one request.

    `transactions[i]` was consumed at `sources[i]`; `next_offsets` is, per partition, the offset
    to commit once this batch and every earlier one are routed.
    """

    seq: int
    batch_id: str
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    transactions: list[Transaction] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    timestamps_ms: list[int] = field(default_factory=list)
