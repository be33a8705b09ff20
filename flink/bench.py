"""Throughput and added latency of the Flink job, read from `transactions.enriched`.

Run with the workspace venv while the job runs and a replay feeds `transactions`:
    python flink/bench.py --bootstrap localhost:9092 --expect 400000
It counts enriched records until `--expect` arrived (or `--idle` s pass without one) and
prints events/s between the first and the last, and the added latency: the enriched
record's Kafka timestamp (when Flink wrote it) minus the transaction's event_time (when
`fraudstream replay` produced it). Both clocks are this machine's. A TLS broker is reached
with FRAUDSTREAM_KAFKA_SECURITY_*, like every fraudstream client.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from datetime import datetime

from confluent_kafka import Consumer

from fraudstream.common.kafka import kafka_config

logger = logging.getLogger(__name__)


def _event_time_ms(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000.0


def main() -> None:
    """Consume the enriched topic and print the measurement as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--topic", default="transactions.enriched")
    parser.add_argument("--expect", type=int, required=True, help="records to wait for")
    parser.add_argument("--idle", type=float, default=60.0, help="give up after idle seconds")
    args = parser.parse_args()
    consumer = Consumer(
        kafka_config(
            args.bootstrap,
            {"group.id": f"flink-bench-{time.time_ns()}", "auto.offset.reset": "earliest"},
        )
    )
    consumer.subscribe([args.topic])
    count, first, last, latencies = 0, 0.0, 0.0, []
    idle_since = time.monotonic()
    while count < args.expect and time.monotonic() - idle_since < args.idle:
        for message in consumer.consume(10_000, 0.5):
            if message.error() is not None:
                continue
            now = time.monotonic()
            first, last, idle_since = first or now, now, now
            count += 1
            event_time = json.loads(message.value())["transaction"].get("event_time")
            if event_time:
                latencies.append(message.timestamp()[1] - _event_time_ms(event_time))
    consumer.close()
    latencies.sort()

    def quantile(q: float) -> float:
        return latencies[min(int(q * len(latencies)), len(latencies) - 1)] if latencies else 0.0

    print(
        json.dumps(
            {
                "records": count,
                "seconds": round(last - first, 2),
                "events_per_second": round(count / (last - first), 1) if last > first else None,
                "latency_ms_p50": round(quantile(0.5), 1),
                "latency_ms_p99": round(quantile(0.99), 1),
                "latency_ms_max": round(quantile(1.0), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
