"""Reading a topic back to its end (a real broker): from the start, from a moment, nothing."""

from __future__ import annotations

import gc
import time

import pytest
from confluent_kafka import Producer

from fraudstream.cli.kafka.readback import messages_in, read_back, scored_id

pytestmark = pytest.mark.integration

# Messages are stamped around it by the test, in the past: the broker refuses stamps more than
# an hour ahead of its clock.
SINCE_MS = int(time.time() * 1000) - 600_000


def _produce(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    errors: list[str] = []
    report = {"on_delivery": lambda error, _m: error is None or errors.append(str(error))}
    for i in range(30):
        stamp = SINCE_MS + (i - 10) * 1000  # ten before SINCE_MS, twenty at or after it
        producer.produce(topic, b"", f"e-{i}".encode(), partition=i % 3, timestamp=stamp, **report)
    producer.produce(topic, b"", b"\xff\xfe", partition=0, timestamp=SINCE_MS + 60_000, **report)
    assert producer.flush(30) == 0 and errors == [], errors


def test_a_topic_is_read_to_its_end_from_the_start_or_from_a_moment(
    kafka_bootstrap, kafka_topic_factory
):
    topic = kafka_topic_factory(3)
    assert list(read_back(kafka_bootstrap, topic)) == []  # nothing written: nothing to wait for
    _produce(kafka_bootstrap, topic)
    assert messages_in(kafka_bootstrap, topic) == 31

    everything, collecting = [], []
    for message in read_back(kafka_bootstrap, topic):
        collecting.append(gc.isenabled())  # the collector is off while the read is under way
        everything.append(scored_id(message))
    assert collecting == [False] * 31 and gc.isenabled()  # and on again after it
    assert sorted(everything) == sorted([f"e-{i}" for i in range(30)] + ["\ufffd\ufffd"])

    later = {scored_id(m): m.timestamp()[1] for m in read_back(kafka_bootstrap, topic, SINCE_MS)}
    assert len(later) == 21
    assert min(later.values()) == SINCE_MS
    assert set(later) - {"\ufffd\ufffd"} == {f"e-{i}" for i in range(10, 30)}
    assert list(read_back(kafka_bootstrap, topic, SINCE_MS + 300_000)) == []
