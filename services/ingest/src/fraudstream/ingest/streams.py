"""A bidi gRPC stream where each request gets one response, in order, resent after reconnects.

Both of the bridge's streams have this shape: StreamScores (a batch in, its scores out) and
ReportAlerts (alerts in, their acks out). `submit(request)` returns the future of its response.
The connection itself is the shared ReconnectingStream: each connection opens with every
request not yet answered, in order, and the peers de-duplicate by batch or event id. A stream
the peer ends with a status that blames the request (see REQUEST_FAULTS) fails only the oldest
unanswered request: the peer answers in order, so that is the one it was working on. Resending
it would fail it forever.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Generic, TypeVar

import grpc

from fraudstream.common.stream import ChannelFactory, ReconnectingStream, insecure_channel

logger = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Pending = tuple[Req, "Future[Resp]"]

# Statuses that say the request itself cannot be answered. Any other status (UNAVAILABLE,
# CANCELLED, DEADLINE_EXCEEDED, but also FAILED_PRECONDITION while a scorer has no model yet)
# concerns the connection or the peer's state, and every request is sent again.
REQUEST_FAULTS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
    }
)


class StreamStopped(Exception):
    """The stream was stopped before the request was answered."""


class OrderedStream(Generic[Req, Resp]):
    """Keeps one stream open to `address`; responses complete the futures `submit` returned.

    `on_ended(stream, error)` runs after each connection ends (error None: the peer ended it
    without one), once a request fault has failed its request: a pool of streams moves the
    unanswered requests elsewhere from there (`take_unanswered`).
    """

    def __init__(
        self,
        name: str,
        address: str,
        open_call: Callable[[grpc.Channel, Iterator[Req]], Iterator[Resp]],
        on_reconnect: Callable[[], None] = lambda: None,
        max_backoff: float = 5.0,
        channel_factory: ChannelFactory = insecure_channel,
        on_connected: Callable[[bool], None] | None = None,
        on_ended: Callable[[OrderedStream[Req, Resp], grpc.RpcError | None], None] | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self._on_reconnect = on_reconnect
        self._on_ended = on_ended
        self._unanswered: deque[Pending[Req, Resp]] = deque()
        self._stopped = threading.Event()
        self._stream: ReconnectingStream[Req, Resp] = ReconnectingStream(
            f"{name}-stream",
            address,
            open_call,
            self._opening,
            self._answered,
            on_connected=on_connected,
            on_ended=self._ended,
            channel_factory=channel_factory,
            initial_backoff=0.05,
            max_backoff=max_backoff,
        )
        self.connected = self._stream.connected

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        """Close the stream; requests still unanswered fail with StreamStopped."""
        with self._stream.sending():
            self._stopped.set()
        self._stream.stop()
        for _request, future in self.take_unanswered(force=True):
            future.set_exception(StreamStopped(f"{self.name} stream stopped"))

    def submit(self, request: Req) -> Future[Resp]:
        """Send `request`; the future holds its response, or the RpcError that rejected it."""
        future: Future[Resp] = Future()
        future.set_running_or_notify_cancel()  # only the stream completes it
        self.adopt(request, future)
        return future

    def adopt(self, request: Req, future: Future[Resp]) -> None:
        """Send `request` whose response completes `future` (one another stream gave up)."""
        with self._stream.sending():
            if not self._stopped.is_set():
                self._unanswered.append((request, future))
                self._stream.send(request)  # else the next connection's opening sends it
                return
        future.set_exception(StreamStopped(f"{self.name} stream stopped"))

    def unanswered(self) -> int:
        return len(self._unanswered)

    def take_unanswered(self, force: bool = False) -> list[Pending[Req, Resp]]:
        """Remove and return the unanswered requests, oldest first, if no connection is open
        (one that is may still answer them; `force` after stop())."""
        with self._stream.sending():
            if self._stream.attached() and not force:
                return []
            taken = list(self._unanswered)
            self._unanswered.clear()
            return taken

    def _opening(self) -> list[Req]:
        return [request for request, _future in self._unanswered]

    def _answered(self, response: Resp) -> None:
        with self._stream.sending():
            _request, future = self._unanswered.popleft()
        # Outside the lock: what follows the response may submit again.
        future.set_result(response)

    def _ended(self, error: grpc.RpcError | None) -> None:
        if self._stopped.is_set():
            return
        if error is not None:
            self._on_reconnect()
            code = error.code() if isinstance(error, grpc.Call) else None
            if code in REQUEST_FAULTS:
                with self._stream.sending():
                    oldest = self._unanswered.popleft() if self._unanswered else None
                if oldest is not None:
                    oldest[1].set_exception(error)
        if self._on_ended is not None:
            self._on_ended(self, error)
