"""StreamScores over several scorer processes at once: one stream per scorer, in parallel.

The same client code as the one-scorer figure (`scorer.stream_once`), one thread per scorer,
so the ratio of the two is what a second scorer process adds on this machine.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from typing import Any

from fraudstream.cli.bench.scorer import batches_of, channel, stream_once
from fraudstream.common.transport import PLAINTEXT, Transport
from fraudstream.v1 import scoring_service_pb2_grpc
from fraudstream.v1.transaction_pb2 import Transaction


def parallel_throughput(
    addresses: Sequence[str],
    transactions: Sequence[Transaction],
    batch_size: int,
    in_flight: int,
    total: int,
    trials: int,
    pids: Sequence[int | None] = (),
    *,
    transport: Transport = PLAINTEXT,
) -> dict[str, Any]:
    """`trials` runs of `total` transactions per scorer, all scorers streamed at once."""
    batches = batches_of(transactions, batch_size)
    count = max(total // batch_size, 1)
    channels = [channel(address, transport) for address in addresses]
    stubs = [scoring_service_pb2_grpc.ScoringServiceStub(c) for c in channels]
    pid_of = list(pids) + [None] * (len(addresses) - len(pids))
    try:
        for stub in stubs:
            stream_once(stub, batches, min(count, 50), in_flight)  # warm-up
        runs = [_trial(stubs, batches, count, in_flight, pid_of) for _ in range(trials)]
    finally:
        for opened in channels:
            opened.close()
    rates = [run["tx_per_s"] for run in runs]
    return {
        "scorers": len(addresses),
        "batch_size": batch_size,
        "in_flight_per_scorer": in_flight,
        "transactions_per_trial": count * batch_size * len(addresses),
        "trials": runs,
        "tx_per_s": statistics.median(rates),
        "tx_per_s_best": max(rates),
        "item_errors": sum(r["item_errors"] for run in runs for r in run["per_scorer"]),
    }


def _trial(
    stubs: list[Any], batches: list[Any], count: int, in_flight: int, pids: list[int | None]
) -> dict[str, Any]:
    results: list[dict[str, Any]] = [{} for _ in stubs]
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            results[i] = stream_once(stubs[i], batches, count, in_flight, pids[i])
        except BaseException as exc:  # re-raised by the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(stubs))]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if errors:
        raise errors[0]
    scored = sum(r["transactions"] for r in results)
    return {
        "transactions": scored,
        "seconds": seconds,
        "tx_per_s": scored / seconds,
        "per_scorer": results,
    }
