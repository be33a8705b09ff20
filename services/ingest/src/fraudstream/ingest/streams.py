"""A bidi gRPC stream where each request gets one response, in order, resent after reconnects.

Both of the bridge's streams have this shape: StreamScores (a batch in, its scores out) and
ReportAlerts (alerts in, their acks out). `submit(request)` returns the future of its response.
Requests not yet answered when the stream breaks are sent again, in order, on the next
connection; the peers de-duplicate by batch or event id. A stream the peer ends with a status
that blames the request (see REQUEST_FAULTS) fails only the oldest unanswered request: the peer
answers in order, so that is the one it was working on. Resending it would fail it forever.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

import grpc

logger = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")
_END = object()

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
    """Keeps one stream open to `address`; responses complete the futures `submit` returned."""

    def __init__(
        self,
        name: str,
        address: str,
        open_call: Callable[[grpc.Channel, Iterator[Req]], Iterator[Resp]],
        on_reconnect: Callable[[], None] = lambda: None,
        max_backoff: float = 5.0,
        channel_factory: Callable[[str], grpc.Channel] = grpc.insecure_channel,
    ) -> None:
        self._name = name
        self._address = address
        self._open_call = open_call
        self._on_reconnect = on_reconnect
        self._max_backoff = max_backoff
        # One channel per connection, with this process's TLS identity and token.
        self._channel_factory = channel_factory
        self._unanswered: deque[tuple[Req, Future[Resp]]] = deque()
        self._lock = threading.Lock()
        self._outbox: queue.Queue[Any] | None = None
        self._stop = threading.Event()
        self._call: Any = None
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-stream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the stream; requests still unanswered fail with StreamStopped."""
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(timeout=5)
        with self._lock:
            left = list(self._unanswered)
            self._unanswered.clear()
        for _request, future in left:
            future.set_exception(StreamStopped(f"{self._name} stream stopped"))

    def submit(self, request: Req) -> Future[Resp]:
        """Send `request`; the future holds its response, or the RpcError that rejected it."""
        future: Future[Resp] = Future()
        future.set_running_or_notify_cancel()  # only the stream completes it
        with self._lock:
            if self._stop.is_set():
                future.set_exception(StreamStopped(f"{self._name} stream stopped"))
                return future
            self._unanswered.append((request, future))
            if self._outbox is not None:
                self._outbox.put(request)
        return future

    def _run(self) -> None:
        backoff, failures = 0.05, 0
        while not self._stop.is_set():
            outbox: queue.Queue[Any] = queue.Queue()
            with self._lock:
                for request, _future in self._unanswered:
                    outbox.put(request)
                self._outbox = outbox
            try:
                with self._channel_factory(self._address) as channel:
                    call = self._open_call(channel, _drain(outbox))
                    self._call = call
                    for response in call:
                        if not self.connected.is_set():
                            self.connected.set()
                            if failures:
                                logger.info("%s stream to %s re-opened", self._name, self._address)
                            failures, backoff = 0, 0.05
                        with self._lock:
                            _request, future = self._unanswered.popleft()
                        # Outside the lock: what follows the response may submit again.
                        future.set_result(response)
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    break
                failures += 1
                self._on_reconnect()
                if exc.code() in REQUEST_FAULTS:
                    self._fail_oldest(exc)
                    backoff = 0.05  # the peer is up; only that request was refused
                log = logger.warning if failures == 1 else logger.debug
                log("%s stream to %s failed (%s); retrying", self._name, self._address, exc.code())
            finally:
                self.connected.clear()
                with self._lock:
                    self._outbox = None
                outbox.put(_END)
                self._call = None
            self._stop.wait(random.uniform(backoff / 2, backoff))
            backoff = min(backoff * 2, self._max_backoff)

    def _fail_oldest(self, error: grpc.RpcError) -> None:
        with self._lock:
            oldest = self._unanswered.popleft() if self._unanswered else None
        if oldest is not None:
            oldest[1].set_exception(error)


def _drain(outbox: queue.Queue[Any]) -> Iterator[Any]:
    while (request := outbox.get()) is not _END:
        yield request
