"""The scorer through its public gRPC API: StreamScores throughput and unary Score latency."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import grpc

from fraudstream.cli.bench.loadgen import concurrent_throughput, sequential_latency
from fraudstream.cli.bench.machine import process_cpu_seconds
from fraudstream.common.transport import PLAINTEXT, Transport
from fraudstream.v1 import scoring_service_pb2, scoring_service_pb2_grpc
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

# Score calls made before the timed ones (connections, caches and the scorer's engine warm).
UNARY_WARMUP_CALLS = 100
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def channel(address: str, transport: Transport = PLAINTEXT) -> grpc.Channel:
    """A channel to the scorer with the bench's credentials, ready to use."""
    opened = transport.channel(address, options=_CHANNEL_OPTIONS)
    grpc.channel_ready_future(opened).result(timeout=30)
    return opened


def batches_of(
    transactions: Sequence[Transaction], batch_size: int
) -> list[scoring_service_pb2.StreamScoresRequest]:
    """Whole batches of `batch_size` transactions (a ragged tail is dropped)."""
    return [
        scoring_service_pb2.StreamScoresRequest(
            batch_id=f"bench-{i}", transactions=transactions[start : start + batch_size]
        )
        for i, start in enumerate(range(0, len(transactions) - batch_size + 1, batch_size))
    ]


def _errors(scores: Sequence[Any]) -> int:
    return sum(1 for score in scores if score.HasField("error"))


def stream_once(
    stub: scoring_service_pb2_grpc.ScoringServiceStub,
    batches: Sequence[scoring_service_pb2.StreamScoresRequest],
    count: int,
    in_flight: int,
    scorer_pid: int | None = None,
) -> dict[str, Any]:
    """One StreamScores stream of `count` batches with at most `in_flight` unanswered.

    Also how many cores the client (this process) and the scorer kept busy meanwhile: on a
    small machine they share the cores, so a busy client leaves the scorer less.
    """
    window = threading.Semaphore(in_flight)

    def requests() -> Iterator[scoring_service_pb2.StreamScoresRequest]:
        for i in range(count):
            window.acquire()
            yield batches[i % len(batches)]

    scored = errors = answered = 0
    client_cpu = time.process_time()
    scorer_cpu = process_cpu_seconds(scorer_pid) if scorer_pid else 0.0
    began = time.perf_counter()
    for i, response in enumerate(stub.StreamScores(requests(), timeout=600)):
        expected = batches[i % len(batches)]
        if response.batch_id != expected.batch_id or len(response.scores) != len(
            expected.transactions
        ):
            raise RuntimeError(f"response {i} does not answer batch {expected.batch_id}")
        scored += len(response.scores)
        errors += _errors(response.scores)
        answered += 1
        window.release()
    seconds = time.perf_counter() - began
    client_cores = (time.process_time() - client_cpu) / seconds
    if answered != count:
        raise RuntimeError(f"StreamScores answered {answered} of {count} batches")
    trial = {
        "transactions": scored,
        "seconds": seconds,
        "tx_per_s": scored / seconds,
        "item_errors": errors,
        "client_cores_busy": client_cores,
    }
    if scorer_pid:
        trial["scorer_cores_busy"] = (process_cpu_seconds(scorer_pid) - scorer_cpu) / seconds
    return trial


def unary_latency(
    address: str,
    transactions: Sequence[Transaction],
    calls: int,
    budget_seconds: float,
    *,
    transport: Transport = PLAINTEXT,
) -> dict[str, Any]:
    """Score latency of one transaction per call, calls one after another; also its risks."""
    requests = [scoring_service_pb2.ScoreRequest(transactions=[tx]) for tx in transactions]
    risks: dict[str, float] = {}
    with channel(address, transport) as opened:
        stub = scoring_service_pb2_grpc.ScoringServiceStub(opened)

        def call(request: scoring_service_pb2.ScoreRequest) -> None:
            score = stub.Score(request, timeout=10).scores[0]
            if score.HasField("error"):
                raise RuntimeError(f"the scorer refused {score.event_id}: {score.error.message}")
            risks[score.event_id] = score.risk

        summary = sequential_latency(
            call, requests, calls, warmup=UNARY_WARMUP_CALLS, budget_seconds=budget_seconds
        )
    return {"latency": summary, "risks": risks}


def rows_throughput(
    address: str,
    transactions: Sequence[Transaction],
    rows_per_request: int,
    requests: int,
    in_flight: int,
    budget_seconds: float,
    *,
    transport: Transport = PLAINTEXT,
) -> dict[str, Any]:
    """Unary Score with `rows_per_request` transactions per call, `in_flight` calls at a time."""
    payloads = [
        scoring_service_pb2.ScoreRequest(transactions=transactions[i : i + rows_per_request])
        for i in range(0, len(transactions) - rows_per_request + 1, rows_per_request)
    ]
    with channel(address, transport) as opened:
        stub = scoring_service_pb2_grpc.ScoringServiceStub(opened)

        def start(request: scoring_service_pb2.ScoreRequest, done: Any) -> None:
            def answered(future: Any) -> None:
                error = future.exception()
                if error is not None:
                    logger.error("Score failed: %s", error)
                done(0 if error is not None else len(future.result().scores))

            stub.Score.future(request, timeout=60).add_done_callback(answered)

        return concurrent_throughput(
            start,
            payloads,
            rows_per_request,
            requests,
            in_flight,
            warmup=20,
            budget_seconds=budget_seconds,
        )
