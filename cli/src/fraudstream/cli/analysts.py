"""Simulated analysts: answer review cases from a dataset's ground truth, late, sometimes wrong."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from fraudstream.common.stream import ChannelFactory, ReconnectingStream, insecure_channel
from fraudstream.v1 import alert_pb2, feedback_service_pb2, feedback_service_pb2_grpc

logger = logging.getLogger(__name__)

# Stream errors after which an analyst reconnects (service restarting, network blip).
# RESOURCE_EXHAUSTED: the service serves as many streams as it may; a slot frees up later.
_RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
_RECONNECT_SECONDS = 1.0  # the first retry's backoff; it doubles up to _MAX_RECONNECT_SECONDS
_MAX_RECONNECT_SECONDS = 10.0

ReviewStream = ReconnectingStream[
    feedback_service_pb2.ReviewRequest, feedback_service_pb2.ReviewResponse
]


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
        channel_factory: ChannelFactory = insecure_channel,
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
        self._channel_factory = channel_factory
        # One lock for stats, the label budget and closing streams, so a verdict
        # claimed from the budget is always queued before its stream closes.
        self._lock = threading.RLock()
        self._given = 0
        self._stats = AnalystStats()
        self._acked: list[tuple[str, int]] = []  # (event id, label-log position) per ack
        self._stopping = threading.Event()
        self._streams: list[ReviewStream] = []
        self.error: grpc.RpcError | None = None

    @property
    def stats(self) -> AnalystStats:
        with self._lock:
            return AnalystStats(**vars(self._stats))

    def acknowledged(self) -> list[tuple[str, int]]:
        """(event id, label-log position) of every verdict the service acked (0: refused)."""
        with self._lock:
            return list(self._acked)

    def start(self) -> None:
        for index in range(self._count):
            self._streams.append(self._review_stream(index))
        for stream in self._streams:
            stream.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop answering; sessions close after the service acked what was sent."""
        self._finish()
        self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every analyst to finish; True if they all did."""
        return all([stream.wait(timeout) for stream in self._streams])

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
            for stream in self._streams:
                stream.close()

    def _review_stream(self, index: int) -> ReviewStream:
        """One analyst's Review session, reopened after a retryable error."""
        rng = random.Random(self._seed * 1_000_003 + index)
        start = feedback_service_pb2.ReviewStart(analyst=f"simulated-{index}", prefetch=1)
        stream: ReviewStream

        def open_review(
            channel: grpc.Channel, requests: Iterator[feedback_service_pb2.ReviewRequest]
        ) -> Iterable[feedback_service_pb2.ReviewResponse]:
            stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
            return stub.Review(requests, metadata=self._metadata, wait_for_ready=True)

        def on_response(response: feedback_service_pb2.ReviewResponse) -> None:
            if response.HasField("verdict_ack"):
                ack = response.verdict_ack
                with self._lock:
                    self._stats.labels += 1
                    self._acked.append((ack.event_id, ack.position))
                return
            if self._stopping.wait(self._delay):
                return  # stopping: let the stream end, the service releases the lease
            self._answer(response.case_pushed.event_id, rng, stream)

        stream = ReconnectingStream(
            f"analyst-{index}",
            self.address,
            open_review,
            lambda: [feedback_service_pb2.ReviewRequest(start=start)],
            on_response,
            on_failed=self._failed,
            retryable=_RETRYABLE,
            channel_factory=self._channel_factory,
            initial_backoff=_RECONNECT_SECONDS,
            max_backoff=_MAX_RECONNECT_SECONDS,
        )
        return stream

    def _failed(self, error: grpc.RpcError) -> None:
        """A session failed for good (e.g. a wrong token): everyone stops with that error."""
        if not self._stopping.is_set():
            self.error = error
            self._finish()

    def _answer(
        self,
        event_id: str,
        rng: random.Random,
        stream: ReviewStream,
    ) -> None:
        truth = self._truth.is_fraud(event_id)
        if truth is None:  # not a row of our dataset: leave it to someone who knows
            with self._lock:
                self._stats.skipped += 1
            stream.send(
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
            stream.send(
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
