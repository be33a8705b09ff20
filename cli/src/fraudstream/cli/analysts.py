"""Simulated analysts: answer review cases from a dataset's ground truth, late, sometimes wrong."""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from fraudstream.v1 import alert_pb2, feedback_service_pb2, feedback_service_pb2_grpc

logger = logging.getLogger(__name__)

# Stream errors after which an analyst reconnects (service restarting, network blip).
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
_RECONNECT_SECONDS = 1.0


def row_of(event_id: str) -> int | None:
    """The 0-based CSV data row of a replayed event: the integer after the last '-' of its id."""
    _, sep, tail = event_id.rpartition("-")
    return int(tail) if sep and tail.isdigit() else None


class GroundTruth:
    """The `isFraud` column of a PaySim CSV, looked up by event id."""

    def __init__(self, is_fraud: np.ndarray) -> None:
        self._is_fraud = is_fraud.astype(bool)

    @classmethod
    def from_csv(cls, path: Path) -> GroundTruth:
        import pandas as pd  # only the simulation needs it; the terminal UI starts faster

        try:
            column = pd.read_csv(path, usecols=["isFraud"])["isFraud"]
        except ValueError as exc:
            raise ValueError(f"{path}: no isFraud column ({exc})") from None
        return cls(column.to_numpy())

    def __len__(self) -> int:
        return len(self._is_fraud)

    def is_fraud(self, event_id: str) -> bool | None:
        """Ground truth of the event, or None when its id names no row of the dataset."""
        row = row_of(event_id)
        if row is None or row >= len(self._is_fraud):
            return None
        return bool(self._is_fraud[row])


@dataclass
class AnalystStats:
    """What the simulated analysts did so far."""

    labels: int = 0  # verdicts acked by the service
    fraud: int = 0
    legit: int = 0
    flipped: int = 0  # verdicts deliberately contrary to the ground truth
    skipped: int = 0  # cases whose event id names no row of the dataset


class SimulatedAnalysts:
    """`analysts` review sessions answering each pushed case from ground truth after `delay` s.

    Each verdict is the truth flipped with probability `error_rate` (seeded per
    analyst, so runs repeat). With `max_labels`, they stop once that many
    verdicts were given in total. Use `start()`/`stop()`, or `run()` to block.
    """

    def __init__(
        self,
        address: str,
        token: str,
        truth: GroundTruth,
        *,
        analysts: int = 1,
        delay: float = 0.0,
        error_rate: float = 0.0,
        seed: int = 0,
        max_labels: int | None = None,
    ) -> None:
        if analysts < 1:
            raise ValueError(f"analysts must be >= 1, got {analysts}")
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must be in [0, 1], got {error_rate}")
        self.address = address
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._truth = truth
        self._count = analysts
        self._delay = delay
        self._error_rate = error_rate
        self._seed = seed
        self._max_labels = max_labels
        # One lock for stats, the label budget and closing outboxes, so a verdict
        # claimed from the budget is always queued before its outbox closes.
        self._lock = threading.RLock()
        self._given = 0
        self._stats = AnalystStats()
        self._stopping = threading.Event()
        self._outboxes: list[queue.Queue[feedback_service_pb2.ReviewRequest | None]] = []
        self._threads: list[threading.Thread] = []
        self.error: grpc.RpcError | None = None

    @property
    def stats(self) -> AnalystStats:
        with self._lock:
            return AnalystStats(**vars(self._stats))

    def start(self) -> None:
        for index in range(self._count):
            outbox: queue.Queue[feedback_service_pb2.ReviewRequest | None] = queue.Queue()
            thread = threading.Thread(
                target=self._analyst, args=(index, outbox), name=f"analyst-{index}", daemon=True
            )
            self._outboxes.append(outbox)
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop answering; sessions close after the service acked what was sent."""
        self._finish()
        self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every analyst to finish; True if they all did."""
        for thread in self._threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in self._threads)

    def run(self) -> AnalystStats:
        """Start, block until `max_labels` (or a stop or an error), return the stats."""
        self.start()
        try:
            while not self.wait(timeout=0.5):
                pass
        finally:
            self.stop()
        if self.error is not None:
            raise self.error
        return self.stats

    def _finish(self) -> None:
        """Everyone stops; sessions end once the service acked the verdicts already sent."""
        with self._lock:
            self._stopping.set()
            for outbox in self._outboxes:
                outbox.put(None)

    def _analyst(
        self, index: int, outbox: queue.Queue[feedback_service_pb2.ReviewRequest | None]
    ) -> None:
        rng = random.Random(self._seed * 1_000_003 + index)
        with grpc.insecure_channel(self.address) as channel:
            stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
            while not self._stopping.is_set():
                try:
                    self._session(stub, index, outbox, rng)
                    return
                except grpc.RpcError as exc:
                    if exc.code() in _RETRYABLE and not self._stopping.is_set():
                        logger.warning("analyst %d: %s; reconnecting", index, exc.code().name)
                        self._stopping.wait(_RECONNECT_SECONDS)
                        continue
                    if not self._stopping.is_set():
                        self.error = exc
                        self._finish()
                    return

    def _session(
        self,
        stub: feedback_service_pb2_grpc.FeedbackServiceStub,
        index: int,
        outbox: queue.Queue[feedback_service_pb2.ReviewRequest | None],
        rng: random.Random,
    ) -> None:
        def requests() -> Iterator[feedback_service_pb2.ReviewRequest]:
            yield feedback_service_pb2.ReviewRequest(
                start=feedback_service_pb2.ReviewStart(analyst=f"simulated-{index}", prefetch=1)
            )
            while (request := outbox.get()) is not None:
                yield request

        call = stub.Review(requests(), metadata=self._metadata, wait_for_ready=True)
        for response in call:
            if response.HasField("verdict_ack"):
                with self._lock:
                    self._stats.labels += 1
                continue
            if self._stopping.wait(self._delay):
                continue  # stopping: let the stream end, the service releases the lease
            self._answer(response.case_pushed.event_id, rng, outbox)

    def _answer(
        self,
        event_id: str,
        rng: random.Random,
        outbox: queue.Queue[feedback_service_pb2.ReviewRequest | None],
    ) -> None:
        truth = self._truth.is_fraud(event_id)
        if truth is None:  # not a row of our dataset: leave it to someone who knows
            with self._lock:
                self._stats.skipped += 1
            outbox.put(
                feedback_service_pb2.ReviewRequest(
                    skip=feedback_service_pb2.ReviewSkip(event_id=event_id)
                )
            )
            return
        flipped = rng.random() < self._error_rate
        fraud = truth != flipped
        verdict = alert_pb2.VERDICT_FRAUD if fraud else alert_pb2.VERDICT_LEGIT
        with self._lock:
            if self._stopping.is_set():
                return
            outbox.put(
                feedback_service_pb2.ReviewRequest(
                    verdict=feedback_service_pb2.ReviewVerdict(
                        event_id=event_id, verdict=verdict, note="simulated analyst"
                    )
                )
            )
            self._given += 1
            self._stats.flipped += flipped
            self._stats.fraud += fraud
            self._stats.legit += not fraud
            if self._max_labels is not None and self._given >= self._max_labels:
                self._finish()
