"""Reading a topic back to its end as it is now, from its start or from a moment: what the
benchmarks and the experiments count and time their runs by."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import click
from confluent_kafka import Consumer, Message, TopicPartition

from fraudstream.common import collector
from fraudstream.common.codec import content_type, decode_transaction
from fraudstream.common.kafka import kafka_config

# A read that gets nothing for this long while messages are left has stalled.
STALL_SECONDS = 10.0
PROGRESS_EVERY_SECONDS = 10.0


def _consumer(bootstrap: str) -> Consumer:
    group = f"fraudstream-reader-{uuid.uuid4().hex[:8]}"  # never commits: the group is a name
    return Consumer(kafka_config(bootstrap, {"group.id": group, "enable.auto.commit": False}))


def transaction_id(message: Message) -> str:
    """The event id of a message of `transactions` (decoded: its key is the paying account)."""
    return decode_transaction(message.value(), content_type(message.headers())).event_id


def scored_id(message: Message) -> str:
    """The event id of a score: its key (a key that is not UTF-8 with replacement characters)."""
    key = message.key()
    return key.decode("utf-8", "replace") if key else ""


def end_offsets(bootstrap: str, topic: str) -> list[tuple[int, int]]:
    """(low, high) watermark offsets of each partition of `topic`, by partition."""
    consumer = _consumer(bootstrap)
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in sorted(metadata.partitions)
        ]
    finally:
        consumer.close()


def messages_in(bootstrap: str, topic: str) -> int:
    """Messages written to `topic` so far (its high watermarks' sum)."""
    return sum(high for _low, high in end_offsets(bootstrap, topic))


def read_back(
    bootstrap: str,
    topic: str,
    since_ms: int | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> Iterator[Message]:
    """Every message of `topic` up to its end offsets as they are when this starts, from the
    first written at or after `since_ms` (None: from the start); errors are skipped. `say`
    gets a progress line every ten seconds. Raises ClickException when no message comes for
    STALL_SECONDS while some are left. Python's cycle collector is off while it reads."""
    consumer = _consumer(bootstrap)
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        if since_ms is None:
            starts = [TopicPartition(topic, p, -2) for p in partitions]  # -2: the beginning
        else:
            starts = consumer.offsets_for_times(
                [TopicPartition(topic, p, since_ms) for p in partitions], timeout=10
            )
        left, assigned = 0, []
        for start in starts:
            low, high = consumer.get_watermark_offsets(start, timeout=10)
            offset = low if start.offset == -2 else start.offset
            if 0 <= offset < high:  # -1 from offsets_for_times: nothing written since then
                left += high - offset
                assigned.append(TopicPartition(topic, start.partition, offset))
        consumer.assign(assigned)
        # Callers keep what they read (millions of ids and stamps): with the collector on, each
        # full collection its allocations trigger walks all of it again (9 s of a 52 s read of
        # 3,000,000 events). Nothing read makes a reference cycle.
        with collector.paused():
            total, began, said = left, time.monotonic(), time.monotonic()
            while left > 0:
                batch = consumer.consume(10_000, timeout=STALL_SECONDS)
                if not batch:
                    raise click.ClickException(
                        f"reading {topic} back stalled with {left:,} of {total:,} messages left"
                    )
                for message in batch:
                    if message.error() is None:
                        left -= 1
                        yield message
                if time.monotonic() - said >= PROGRESS_EVERY_SECONDS:
                    said = time.monotonic()
                    rate = (total - left) / (said - began)
                    say(f"read {total - left:,} of {total:,} from {topic} ({rate:,.0f}/s)")
    finally:
        consumer.close()
