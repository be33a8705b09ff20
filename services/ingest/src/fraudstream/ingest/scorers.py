"""Several scorers behind one `submit`: round robin over the connected ones, with failover.

Each scorer address has its own OrderedStream (its own connection, resent requests, request
faults). Batches go to the connected scorers in turn; a scorer whose stream is down gets none.
When a scorer's connection ends, the batches it had not answered move to a connected scorer
(or wait for its reconnection if none is connected); when a scorer connects, batches waiting
on a scorer that is down move to it. Every batch keeps its own future, so whichever scorer
answers, the scores go to that batch, and the bridge routes and commits batch by batch.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import grpc

from fraudstream.common.stream import ChannelFactory, insecure_channel
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.streams import OrderedStream
from fraudstream.v1 import scoring_service_pb2

logger = logging.getLogger(__name__)

ScoreRequest = scoring_service_pb2.StreamScoresRequest
ScoreResponse = scoring_service_pb2.StreamScoresResponse
ScorerStream = OrderedStream[ScoreRequest, ScoreResponse]


def scorer_addresses(setting: str | Sequence[str]) -> list[str]:
    """The scorer addresses of a setting: comma-separated, or a list of such (repeated flag)."""
    parts = [setting] if isinstance(setting, str) else list(setting)
    addresses = [a.strip() for part in parts for a in part.split(",") if a.strip()]
    if not addresses:
        raise ValueError("no scorer address given")
    return list(dict.fromkeys(addresses))  # one stream per scorer, in the order given


class ScorerPool:
    """`submit(request)` sends a StreamScores request to one of the scorers at `addresses`."""

    def __init__(
        self,
        addresses: Sequence[str],
        open_call: Callable[[grpc.Channel, Iterator[Any]], Iterator[Any]],
        metrics: IngestMetrics | None = None,
        max_backoff: float = 5.0,
        channel_factory: ChannelFactory = insecure_channel,
    ) -> None:
        self._metrics = metrics
        self._stopping = threading.Event()
        self.streams: list[ScorerStream] = [
            OrderedStream(
                "scorer",
                address,
                open_call,
                on_reconnect=metrics.reconnects.labels("scorer").inc if metrics else lambda: None,
                max_backoff=max_backoff,
                channel_factory=channel_factory,
                on_connected=self._connection_callback(address),
                on_ended=self._ended,
            )
            for address in addresses
        ]
        self._turn = itertools.cycle(range(len(self.streams)))
        self._turn_lock = threading.Lock()
        if metrics is not None:
            for address in addresses:
                metrics.scorer_connected.labels(address).set(0)

    def start(self) -> None:
        for stream in self.streams:
            stream.start()

    def stop(self) -> None:
        """Stop every stream; batches still unanswered fail with StreamStopped."""
        self._stopping.set()
        for stream in self.streams:
            stream.stop()

    def submit(self, request: ScoreRequest) -> Future[ScoreResponse]:
        """Send `request` to the next connected scorer (the next scorer if none is)."""
        future: Future[ScoreResponse] = Future()
        future.set_running_or_notify_cancel()  # only a stream completes it
        self._send(request, future, avoid=None)
        return future

    def _send(
        self, request: ScoreRequest, future: Future[ScoreResponse], avoid: ScorerStream | None
    ) -> None:
        stream = self._next(avoid)
        if self._metrics is not None:
            self._metrics.scorer_batches.labels(stream.address).inc()
        stream.adopt(request, future)
        if not stream.connected.is_set() and avoid is None:
            # It went down between the choice and the send, and may not come back soon.
            self._ended(stream, None)

    def _next(self, avoid: ScorerStream | None) -> ScorerStream:
        with self._turn_lock:
            first = next(self._turn)
        count = len(self.streams)
        in_turn = [self.streams[(first + i) % count] for i in range(count)]
        candidates = [stream for stream in in_turn if stream is not avoid] or in_turn
        for stream in candidates:
            if stream.connected.is_set():
                return stream
        # None is connected: queue it on one; it moves when any scorer connects.
        return candidates[0]

    def _connection_callback(self, address: str) -> Callable[[bool], None]:
        def changed(connected: bool) -> None:
            if self._metrics is not None:
                self._metrics.scorer_connected.labels(address).set(int(connected))
            if connected:
                for other in self.streams:
                    if other.address != address and not other.connected.is_set():
                        self._move_from(other)

        return changed

    def _ended(self, stream: ScorerStream, error: grpc.RpcError | None) -> None:
        if any(other.connected.is_set() for other in self.streams if other is not stream):
            self._move_from(stream)

    def _move_from(self, stream: ScorerStream) -> None:
        """Send the batches `stream` has not answered to the other scorers, oldest first
        (none while its connection is open: it may still answer them)."""
        if self._stopping.is_set():
            return
        taken = stream.take_unanswered()
        if taken:
            logger.warning(
                "scorer %s is down; sending its %d unanswered batches to other scorers",
                stream.address,
                len(taken),
            )
        for request, future in taken:
            self._send(request, future, avoid=stream)
