"""Replays a PaySim CSV into Kafka `transactions` at a chosen rate, one Transaction per row.

Event ids are `<run>-<row>` (row: 0-based data row of the CSV), so ground truth can be looked up
by row later (simulated analysts do). Event time is the wall clock when the row is produced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaError, Message, Producer

from fraudstream.cli.replay.transactions import transactions_of
from fraudstream.common import names
from fraudstream.common.codec import CONTENT_TYPE_HEADER, FORMATS, encode_transaction
from fraudstream.common.kafka import kafka_config
from fraudstream.training.api import read_paysim_chunks

logger = logging.getLogger(__name__)

_CHUNK_ROWS = 20_000
_PACE_EVERY = 200  # rows between rate checks


@dataclass(frozen=True)
class ReplayConfig:
    """What to replay and how fast (`rate` 0: as fast as possible)."""

    input: Path
    bootstrap: str
    rate: float = 0.0
    content_type: str = FORMATS["protobuf"]
    run_id: str = ""
    limit: int | None = None
    topic: str = names.TRANSACTIONS


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay did."""

    rows: int
    seconds: float
    failed: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def count_rows(path: Path) -> int | None:
    """Data rows of a plain CSV (fast line count); None for compressed files."""
    if path.suffix == ".gz":
        return None
    with path.open("rb") as source:
        return max(
            sum(block.count(b"\n") for block in iter(lambda: source.read(1 << 20), b"")) - 1, 0
        )


def run_id_for(path: Path) -> str:
    """The default run id: the file name without suffixes, e.g. `paysim` for paysim.csv.gz."""
    return path.name.split(".", 1)[0] or "replay"


def replay(config: ReplayConfig, on_progress: Callable[[int], None] | None = None) -> ReplaySummary:
    """Produce the rows of `config.input`; returns once every message is delivered."""
    producer = Producer(
        kafka_config(
            config.bootstrap,
            {
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 500_000,
                "logger": logging.getLogger("fraudstream.cli.librdkafka"),
            },
        ),
    )
    failed = 0

    def delivered(err: KafkaError | None, _msg: Message) -> None:
        nonlocal failed
        if err is not None:
            failed += 1
            logger.error("delivery failed: %s", err)

    run_id = config.run_id or run_id_for(config.input)
    headers: list[tuple[str, str | bytes | None]] = [
        (CONTENT_TYPE_HEADER, config.content_type.encode())
    ]
    started = time.monotonic()
    produced = 0
    for chunk in read_paysim_chunks(config.input, chunk_rows=_CHUNK_ROWS):
        if config.limit is not None:
            chunk = chunk.iloc[: max(config.limit - produced, 0)]
        for transaction in transactions_of(chunk, run_id, produced):
            now_ns = time.time_ns()
            transaction.event_time.seconds, transaction.event_time.nanos = divmod(now_ns, 10**9)
            value = encode_transaction(transaction, config.content_type)
            while True:
                try:
                    producer.produce(
                        config.topic,
                        value,
                        transaction.name_orig,
                        headers=headers,
                        on_delivery=delivered,
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
            produced += 1
            if produced % _PACE_EVERY == 0:
                producer.poll(0)
                if on_progress is not None:
                    on_progress(_PACE_EVERY)
                if config.rate > 0:
                    ahead = produced / config.rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        if config.limit is not None and produced >= config.limit:
            break
    if on_progress is not None:
        on_progress(produced % _PACE_EVERY)
    undelivered = producer.flush(60)
    return ReplaySummary(
        rows=produced, seconds=time.monotonic() - started, failed=failed + undelivered
    )
