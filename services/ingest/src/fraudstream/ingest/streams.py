"""A bidi gRPC stream where each request gets one response, in order, resent after reconnects.

Both of the bridge's streams have this shape: StreamScores (a batch in, its scores out) and
ReportAlerts (alerts in, their acks out). Requests not yet answered when the stream breaks are
sent again, in order, on the next connection; the peers de-duplicate by batch or event id.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import grpc

logger = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")
_END = object()


class OrderedStream(Generic[Req, Resp]):
    """Keeps one stream open to `address`; `on_response(token, response)` runs in its thread."""

    def __init__(
        self,
        name: str,
        address: str,
        open_call: Callable[[grpc.Channel, Iterator[Req]], Iterator[Resp]],
        on_response: Callable[[Any, Resp], None],
        on_reconnect: Callable[[], None],
        max_backoff: float = 5.0,
    ) -> None:
        self.name = name
        self.address = address
        self._open_call = open_call
        self._on_response = on_response
        self._on_reconnect = on_reconnect
        self._max_backoff = max_backoff
        self._unanswered: deque[tuple[Any, Req]] = deque()
        self._lock = threading.Lock()
        self._outbox: queue.Queue[Any] | None = None
        self._stop = threading.Event()
        self._call: Any = None
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-stream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(timeout=5)

    def submit(self, token: Any, request: Req) -> None:
        """Send `request`; its response comes to on_response with `token`."""
        with self._lock:
            self._unanswered.append((token, request))
            if self._outbox is not None:
                self._outbox.put(request)

    def _run(self) -> None:
        backoff, failures = 0.05, 0
        while not self._stop.is_set():
            outbox: queue.Queue[Any] = queue.Queue()
            with self._lock:
                for _token, request in self._unanswered:
                    outbox.put(request)
                self._outbox = outbox
            try:
                with grpc.insecure_channel(self.address) as channel:
                    call = self._open_call(channel, _drain(outbox))
                    self._call = call
                    for response in call:
                        if not self.connected.is_set():
                            self.connected.set()
                            if failures:
                                logger.info("%s stream to %s re-opened", self.name, self.address)
                            failures, backoff = 0, 0.05
                        with self._lock:
                            token, _request = self._unanswered.popleft()
                        self._on_response(token, response)
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    break
                failures += 1
                self._on_reconnect()
                log = logger.warning if failures == 1 else logger.debug
                log("%s stream to %s failed (%s); retrying", self.name, self.address, exc.code())
            finally:
                self.connected.clear()
                with self._lock:
                    self._outbox = None
                outbox.put(_END)
                self._call = None
            self._stop.wait(random.uniform(backoff / 2, backoff))
            backoff = min(backoff * 2, self._max_backoff)


def _drain(outbox: queue.Queue[Any]) -> Iterator[Any]:
    while (request := outbox.get()) is not _END:
        yield request
