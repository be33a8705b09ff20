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

from fraudstream.common.transport import PLAINTEXT
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.scorer_dns import DNS_SCHEME, ChannelFactory, channel_factory_for, resolve
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
    """`submit(request)` sends a StreamScores request to one of the scorers at `addresses`
    (a `dns:///host:port` among them stands for every address the name resolves to, resolved
    again every `resolve_seconds`)."""

    def __init__(
        self,
        addresses: Sequence[str],
        open_call: Callable[[grpc.Channel, Iterator[Any]], Iterator[Any]],
        metrics: IngestMetrics | None = None,
        max_backoff: float = 5.0,
        channel_factory: ChannelFactory = PLAINTEXT.channel,
        resolve_seconds: float = 30.0,
    ) -> None:
        self._targets = list(addresses)
        self._open_call = open_call
        self._metrics = metrics
        self._max_backoff = max_backoff
        self._channel_factory = channel_factory
        self._resolve_seconds = resolve_seconds
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # guards the two lists below
        self.streams: list[ScorerStream] = []  # in rotation
        self._retired: list[ScorerStream] = []  # gone from DNS, answering what they hold
        self._turn = itertools.count()
        self._refresher = threading.Thread(
            target=self._refresh_loop, name="scorer-dns", daemon=True
        )
        self._refresh(start=False)

    def start(self) -> None:
        for stream in self.streams:
            stream.start()
        if any(target.startswith(DNS_SCHEME) for target in self._targets):
            self._refresher.start()

    def stop(self) -> None:
        """Stop every stream; batches still unanswered fail with StreamStopped."""
        self._stopping.set()
        with self._lock:
            streams = [*self.streams, *self._retired]
        for stream in streams:
            stream.stop()

    def _refresh_loop(self) -> None:
        while not self._stopping.wait(self._resolve_seconds):
            self._refresh(start=True)

    def _refresh(self, start: bool) -> None:
        """Open a stream to every scorer address there is now; retire the vanished ones."""
        wanted = resolve(self._targets)
        with self._lock:
            current = {stream.address: stream for stream in self.streams}
            added = [self._stream(a, host) for a, host in wanted.items() if a not in current]
            gone = [stream for address, stream in current.items() if address not in wanted]
            self.streams = [s for s in self.streams if s.address in wanted] + added
            self._retired += gone
            idle = [s for s in self._retired if not s.unanswered()]
            self._retired = [s for s in self._retired if s.unanswered()]
        for stream in added:
            logger.info("scorer %s added", stream.address)
            if start:
                stream.start()
        for stream in gone:
            logger.info("scorer %s left DNS; it gets no new batches", stream.address)
            self._move_from(stream)
        for stream in idle:
            stream.stop()

    def _stream(self, address: str, host: str | None) -> ScorerStream:
        metrics = self._metrics
        if metrics is not None:
            metrics.scorer_connected.labels(address).set(0)
        return OrderedStream(
            "scorer",
            address,
            self._open_call,
            on_reconnect=metrics.reconnects.labels("scorer").inc if metrics else lambda: None,
            max_backoff=self._max_backoff,
            channel_factory=channel_factory_for(self._channel_factory, host),
            on_connected=self._connection_callback(address),
            on_ended=self._ended,
        )

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
        with self._lock:
            streams, first = self.streams, next(self._turn)
        count = len(streams)
        in_turn = [streams[(first + i) % count] for i in range(count)]
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
                with self._lock:
                    others = [*self.streams, *self._retired]
                for other in others:
                    if other.address != address and not other.connected.is_set():
                        self._move_from(other)

        return changed

    def _ended(self, stream: ScorerStream, error: grpc.RpcError | None) -> None:
        with self._lock:
            others = [other for other in self.streams if other is not stream]
        if any(other.connected.is_set() for other in others):
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
