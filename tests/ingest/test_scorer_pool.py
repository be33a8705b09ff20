"""ScorerPool against in-process scorers (build_server on port 0) that go down mid-stream."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fraudstream.common.lifecycle import Service
from fraudstream.ingest.assembly import _score_stream
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.scorers import ScorerPool, scorer_addresses
from fraudstream.scorer import server as scorer_server
from fraudstream.scorer.engine import ScoredBatch, ScoringEngine
from fraudstream.scorer.server import ScorerDeps
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1 import scoring_service_pb2
from fraudstream.v1.transaction_pb2 import Transaction


class SlowEngine(ScoringEngine):
    """The real engine, 50 ms per batch: batches are in flight when a scorer is stopped."""

    def score(self, transactions: Sequence[Transaction]) -> ScoredBatch:
        time.sleep(0.05)
        return super().score(transactions)


@pytest.fixture
def start_scorer(
    model_bundle: Path, monkeypatch: pytest.MonkeyPatch, credentials: Any
) -> Iterator[Callable[..., tuple[str, Service]]]:
    monkeypatch.setattr(scorer_server, "ScoringEngine", SlowEngine)
    model = load_serving_model(model_bundle)
    started: list[Service] = []

    def start(port: int = 0) -> tuple[str, Service]:
        service = scorer_server.build_server(
            ScorerSettings(port=port, learner_addr="", analyst_tokens_file=credentials.tokens_file),
            ScorerDeps(holder=ModelHolder(model)),
        )
        service.start()
        started.append(service)
        return f"127.0.0.1:{service.port}", service

    yield start
    for service in started:
        service.stop(0)


@pytest.fixture
def make_pool(credentials: Any) -> Iterator[Callable[[list[str]], tuple[ScorerPool, Any]]]:
    pools: list[ScorerPool] = []

    def make(addresses: list[str]) -> tuple[ScorerPool, IngestMetrics]:
        metrics = IngestMetrics()
        pool = ScorerPool(
            addresses,
            _score_stream,
            metrics,
            max_backoff=0.5,
            channel_factory=credentials.transport("ingest").channel,
        )
        pool.start()
        pools.append(pool)
        return pool, metrics

    yield make
    for pool in pools:
        pool.stop()


def _request(n: int, good_transaction) -> scoring_service_pb2.StreamScoresRequest:
    events = [good_transaction(f"e{n}-{i}") for i in range(1 + n % 5)]
    return scoring_service_pb2.StreamScoresRequest(batch_id=f"b{n}", transactions=events)


def _check_pairing(futures, timeout: float = 30) -> None:
    for n, future in enumerate(futures):
        response = future.result(timeout=timeout)
        assert response.batch_id == f"b{n}"
        assert [s.event_id for s in response.scores] == [f"e{n}-{i}" for i in range(1 + n % 5)]


def _batches(metrics: IngestMetrics, address: str) -> float:
    return metrics.scorer_batches.labels(address)._value.get()


def _wait_connected(pool: ScorerPool, count: int) -> None:
    deadline = time.monotonic() + 10
    while sum(s.connected.is_set() for s in pool.streams) < count:
        assert time.monotonic() < deadline, "scorers never connected"
        time.sleep(0.02)


def test_addresses_come_comma_separated_or_repeated_once_each():
    assert scorer_addresses("a:1, b:2,,a:1") == ["a:1", "b:2"]
    assert scorer_addresses(["a:1", "b:2,c:3"]) == ["a:1", "b:2", "c:3"]
    with pytest.raises(ValueError):
        scorer_addresses(" , ")


def test_batches_go_round_robin_and_each_gets_its_own_scores(
    start_scorer, make_pool, good_transaction
):
    (first, _), (second, _) = start_scorer(), start_scorer()
    pool, metrics = make_pool([first, second])
    _wait_connected(pool, 2)
    futures = [pool.submit(_request(n, good_transaction)) for n in range(20)]
    _check_pairing(futures)
    assert _batches(metrics, first) == _batches(metrics, second) == 10
    assert metrics.scorer_connected.labels(first)._value.get() == 1


def test_a_scorer_that_dies_mid_stream_hands_its_batches_to_the_other(
    start_scorer, make_pool, good_transaction
):
    (first, first_service), (second, _) = start_scorer(), start_scorer()
    pool, metrics = make_pool([first, second])
    _wait_connected(pool, 2)
    futures = [pool.submit(_request(n, good_transaction)) for n in range(40)]
    time.sleep(0.2)  # a few answered, most still queued on both scorers
    first_service.stop(0)
    futures += [pool.submit(_request(n, good_transaction)) for n in range(40, 60)]

    _check_pairing(futures)
    assert _batches(metrics, first) + _batches(metrics, second) > 60  # some were moved
    assert metrics.scorer_connected.labels(first)._value.get() == 0
    assert metrics.reconnects.labels("scorer")._value.get() >= 1


def test_a_scorer_down_from_the_start_gets_no_batches(start_scorer, make_pool, good_transaction):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    (live, _) = start_scorer()
    pool, metrics = make_pool([dead, live])
    _wait_connected(pool, 1)
    started = time.monotonic()
    futures = [pool.submit(_request(n, good_transaction)) for n in range(10)]
    _check_pairing(futures, timeout=10)
    assert time.monotonic() - started < 5
    assert _batches(metrics, dead) == 0 and _batches(metrics, live) == 10


def test_batches_sent_while_no_scorer_is_up_go_to_the_first_that_comes(
    start_scorer, make_pool, good_transaction
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    (live, live_service) = start_scorer()
    live_service.stop(0)  # its port is known; nothing listens there until it restarts
    pool, _metrics = make_pool([dead, live])
    futures = [pool.submit(_request(n, good_transaction)) for n in range(6)]
    time.sleep(0.3)
    assert not any(f.done() for f in futures)
    port = int(live.rsplit(":", 1)[1])
    assert start_scorer(port)[0] == live
    _check_pairing(futures, timeout=20)


def test_a_dns_name_stands_for_every_address_it_resolves_to(
    start_scorer, make_pool, good_transaction
):
    (live, _) = start_scorer()
    port = live.rsplit(":", 1)[1]
    pool, metrics = make_pool([f"dns:///localhost:{port}"])
    # localhost is 127.0.0.1 (and ::1 where it resolves to both): one stream per address.
    assert f"127.0.0.1:{port}" in [s.address for s in pool.streams]
    _wait_connected(pool, 1)
    futures = [pool.submit(_request(n, good_transaction)) for n in range(8)]
    _check_pairing(futures, timeout=10)
    assert _batches(metrics, f"127.0.0.1:{port}") >= 4


def test_plain_addresses_are_kept_and_an_unresolvable_name_is_left_to_grpc():
    from fraudstream.ingest.scorer_dns import resolve

    found = resolve(["10.0.0.1:50051", "dns:///no-such-host.invalid:50051"])
    assert found == {"10.0.0.1:50051": None, "dns:///no-such-host.invalid:50051": None}
    with pytest.raises(ValueError):
        resolve(["dns:///no-port"])
