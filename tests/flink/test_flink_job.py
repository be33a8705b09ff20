"""The real Flink job on the real broker: known answers, the oracle to 1e-9, a restart."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from google.protobuf import json_format

from fraudstream.common.codec import JSON, encode_transaction
from fraudstream.model.accounts import ACCOUNT_FEATURES, compute_account_features
from fraudstream.v1.transaction_pb2 import Transaction

pytestmark = pytest.mark.integration

PARTITIONS = 2  # of the session's topics (conftest.PARTITIONS)

TOLERANCE = 1e-9
_READ_TIMEOUT = 120.0


def _cents(amount: float) -> int:
    return round(amount * 100.0)


def oracle(events: Sequence[Sequence[Any]], specs: Sequence[Any]) -> list[dict[str, float]]:
    """The account features by their definition, event by event (quadratic, obviously right).

    The window of event i: earlier-or-same events of its key with step >= step_i - window.
    """
    rows = [
        {"step": e[0], "name_orig": e[1], "name_dest": e[2], "cents": _cents(e[3])} for e in events
    ]
    counterparty = {"name_orig": "name_dest", "name_dest": "name_orig"}
    result = []
    for i, event in enumerate(rows):
        features = {}
        for spec in specs:
            window = [
                r
                for r in rows[: i + 1]
                if r[spec.key] == event[spec.key] and r["step"] >= event["step"] - spec.window
            ]
            count, total = len(window), sum(r["cents"] for r in window)
            value: float
            if spec.aggregate == "count":
                value = float(count)
            elif spec.aggregate == "log_sum":
                value = math.log1p(total / 100.0)
            elif spec.aggregate == "distinct":
                value = float(len({r[counterparty[spec.key]] for r in window}))
            elif spec.aggregate == "since_last":
                value = float(event["step"] - window[-2]["step"]) if count >= 2 else spec.window + 1
            else:  # amount_vs_history
                history = (total - event["cents"]) / max(count - 1, 1)
                value = (
                    math.log1p(event["cents"] / 100.0) - math.log1p(history / 100.0)
                    if count >= 2
                    else 0.0
                )
            features[spec.name] = value
        result.append(features)
    return result


def _with_flush(events: Sequence[Sequence[Any]], tag: str) -> list[list[Any]]:
    """The events plus one of a fresh account per partition at the last step.

    The event-time clock of the job is the slowest partition's: these events move every
    partition past the phase's last event, so all of them are written without waiting.
    """
    last_step = events[-1][0]
    return [*map(list, events)] + [
        [last_step, f"F{tag}{p}", f"FD{tag}{p}", 1.0, p] for p in range(PARTITIONS)
    ]


def _transactions(events: Sequence[Sequence[Any]], first: int, run: str) -> list[Transaction]:
    return [
        Transaction(
            event_id=f"{run}-{first + offset}",
            step=event[0],
            type=2,
            amount=event[3],
            name_orig=event[1],
            name_dest=event[2],
        )
        for offset, event in enumerate(events)
    ]


def _produce(
    bootstrap: str, topic: str, transactions: Sequence[Transaction], events: Sequence[Any]
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for transaction, event in zip(transactions, events, strict=True):
        # Keyed by origin account, as `fraudstream replay` does; flush events name a partition.
        extra = {"partition": event[4]} if len(event) > 4 else {}
        value = encode_transaction(transaction, JSON)
        producer.produce(topic, value, transaction.name_orig, **extra)
    assert producer.flush(30) == 0


def _read(consumer: Consumer, wanted: set[str], seen: dict[str, list[dict[str, Any]]]) -> None:
    """Read enriched values until every wanted event id was seen (all copies kept)."""
    deadline = time.monotonic() + _READ_TIMEOUT
    while not wanted <= seen.keys() and time.monotonic() < deadline:
        for message in consumer.consume(500, 1.0):
            assert message.error() is None, message.error()
            value = json.loads(message.value())
            assert message.key().decode() == value["transaction"]["event_id"]
            seen.setdefault(value["transaction"]["event_id"], []).append(value)
    missing = sorted(wanted - seen.keys())
    assert not missing, f"no enriched value within {_READ_TIMEOUT:.0f} s for {missing}"


def _check(
    seen: dict[str, list[dict[str, Any]]],
    transactions: Sequence[Transaction],
    expected: Sequence[dict[str, float]],
) -> None:
    for transaction, want in zip(transactions, expected, strict=True):
        # At-least-once: a restart may write an event again, always with the same values.
        # (The last flush event waits for a later one, so it may not be there yet.)
        for value in seen.get(transaction.event_id, []):
            parsed = json_format.Parse(json.dumps(value["transaction"]), Transaction())
            assert parsed == transaction
            got = value["account_features"]
            assert set(got) == set(want)
            for name, number in want.items():
                assert got[name] == pytest.approx(number, abs=TOLERANCE, rel=0), (
                    transaction.event_id,
                    name,
                )


def test_features_match_known_answers_and_survive_a_restart(
    flink_session: Any, hand_stream: dict[str, Any]
) -> None:
    """Known answers before a restart; after it, counts that neither lost nor doubled events."""
    job, topics, specs = flink_session.job, flink_session.topics, flink_session.specs
    hand = [*hand_stream["before_restart"], *hand_stream["after_restart"]]
    for index, answers in hand_stream["known"].items():
        for name, number in answers.items():
            known = oracle(hand, specs)[int(index)]
            if name in known:
                assert known[name] == pytest.approx(number, abs=TOLERANCE)
    before = _with_flush(hand_stream["before_restart"], "a")
    after = _with_flush(hand_stream["after_restart"], "b")
    expected = oracle([*before, *after], specs)
    _check_offline_path([*before, *after], specs, expected)
    run = f"hand{uuid.uuid4().hex[:6]}"
    first, second = _transactions(before, 0, run), _transactions(after, len(before), run)
    consumer = Consumer(
        {
            "bootstrap.servers": topics.bootstrap,
            "group.id": f"test-reader-{run}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topics.sink])
    seen: dict[str, list[dict[str, Any]]] = {}
    try:
        _produce(topics.bootstrap, topics.source, first, before)
        _read(consumer, {t.event_id for t in first[:-PARTITIONS]}, seen)
        _check(seen, first, expected[: len(before)])

        # A checkpoint taken after every first-phase event was written holds their state.
        done = job.rest.checkpoints(job.rest.running_job().job_id).completed
        deadline = time.monotonic() + 30
        while job.rest.checkpoints(job.rest.running_job().job_id).completed < done + 2:
            assert time.monotonic() < deadline, "no new checkpoint within 30 s"
            time.sleep(0.5)
        job.stop()
        began = time.monotonic()
        _, restored = job.launch(specs)
        assert restored is not None, "the restart found no checkpoint to resume from"
        job.wait_running(240.0)
        restart_seconds = time.monotonic() - began

        _produce(topics.bootstrap, topics.source, second, after)
        _read(consumer, {t.event_id for t in second[:-PARTITIONS]}, seen)
        _check(seen, second, expected[len(before) :])
        _check(seen, first, expected[: len(before)])
        # The restarted job read only the new events: the old ones' state came from the
        # checkpoint, not from reading the topic again (which would give the same values).
        assert _records_read(job, len(second)) == len(second)
        print(f"restart from {restored} took {restart_seconds:.1f} s")
    finally:
        consumer.close()


def _records_read(job: Any, wanted: int) -> int:
    """The running job's count of records its sources read, once it reached `wanted` (or 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        # REST metrics are refreshed every few seconds; wait for them to settle.
        read = job.rest.throughput(job.rest.running_job().job_id).records_read
        if read >= wanted or time.monotonic() > deadline:
            time.sleep(3)
            return int(job.rest.throughput(job.rest.running_job().job_id).records_read)
        time.sleep(1)


def _check_offline_path(
    events: Sequence[Sequence[Any]], specs: Sequence[Any], expected: Sequence[dict[str, float]]
) -> None:
    """libs/model's offline path gives the values the Flink job is held to."""
    steps, origs, dests, amounts = (list(column) for column in zip(*events, strict=False))
    offline = compute_account_features(steps, origs, dests, amounts)
    assert [spec.name for spec in specs] == list(ACCOUNT_FEATURES.names)
    for row, want in zip(offline, expected, strict=True):
        for column, spec in enumerate(specs):
            assert row[column] == pytest.approx(want[spec.name], abs=TOLERANCE, rel=0)


def test_offline_path_agrees_with_the_oracle(hand_stream: dict[str, Any]) -> None:
    """The offline (pandas) path gives the oracle's values on the hand-made stream."""
    events = [*hand_stream["before_restart"], *hand_stream["after_restart"]]
    _check_offline_path(
        events, ACCOUNT_FEATURES.features, oracle(events, ACCOUNT_FEATURES.features)
    )
