"""One bidi gRPC stream kept open in a background thread: fresh opening, replies, reconnects.

A connection counts as established only once the peer answered: its initial metadata came
while the call was still active, or a first response came. Servers that may stay silent
for long send their initial metadata at the start of the handler, so an idle stream shows
as connected at once. A peer that is down never looks connected, so it never resets the
backoff (exponential, full jitter) nor logs "stream open".
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

import grpc

logger = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")
_END: Any = object()  # ends the request stream of one connection

OpenCall = Callable[[grpc.Channel, Iterator[Req]], Iterable[Resp]]
ChannelFactory = Callable[[str], grpc.Channel]


class Reconnect(Exception):
    """Raised by a response handler: drop this connection (logged as a warning), open anew."""


def insecure_channel(address: str) -> grpc.Channel:
    """The default channel factory: plaintext to `address`."""
    return grpc.insecure_channel(address)


class ReconnectingStream(Generic[Req, Resp]):
    """Keeps one bidi stream to `address` open in a background thread named `name`.

    Each connection starts with the requests `opening()` returns, built fresh for that
    connection (None: not ready yet, ask again a little later). Each response goes to
    `on_response`, whose returned requests are sent next, in order. `on_connected(True)`
    runs once a connection is established, `on_connected(False)` when it is gone.
    `on_ended(error)` runs after every connection attempt, with the RpcError that ended it
    (None: it ended without one), outside the lock and before the next attempt's opening.
    Errors whose code is not in `retryable` (None: every code is) end the stream for good
    and go to `on_failed`. Channels come from `channel_factory(address)`, one per connection.
    """

    def __init__(
        self,
        name: str,
        address: str,
        open_call: OpenCall[Req, Resp],
        opening: Callable[[], Iterable[Req] | None],
        on_response: Callable[[Resp], Iterable[Req] | None],
        *,
        on_connected: Callable[[bool], None] | None = None,
        on_failed: Callable[[grpc.RpcError], None] | None = None,
        on_ended: Callable[[grpc.RpcError | None], None] | None = None,
        retryable: Collection[grpc.StatusCode] | None = None,
        channel_factory: ChannelFactory = insecure_channel,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.name = name
        self.address = address
        self._open_call = open_call
        self._opening = opening
        self._on_response = on_response
        self._on_connected = on_connected
        self._on_failed = on_failed
        self._on_ended = on_ended
        self._retryable = retryable
        self._channel_factory = channel_factory
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        # Guards the current outbox and call: a send() never lands between a connection's
        # opening requests, and stop() never misses a call being created.
        self._lock = threading.RLock()
        self._outbox: queue.Queue[Any] | None = None
        self._call: Any = None
        self._closing = threading.Event()  # no new connection (close() or stop())
        self._stopping = threading.Event()  # stop(): also cancel the current call
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel the call, open no new one, and wait up to `timeout` s for the thread."""
        with self._lock:
            self._stopping.set()
            self._closing.set()
            call = self._call
            if self._outbox is not None:
                self._outbox.put(_END)
        if call is not None:
            call.cancel()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def close(self) -> None:
        """Half-close: send what is queued, then end the requests; the peer ends the call."""
        with self._lock:
            self._closing.set()
            if self._outbox is not None:
                self._outbox.put(_END)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (after stop(), close() or a non-retryable error)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def send(self, *requests: Req) -> bool:
        """Queue `requests` on the current connection; False (dropped) when there is none."""
        with self._lock:
            if self._outbox is None:
                return False
            for request in requests:
                self._outbox.put(request)
            return True

    def attached(self) -> bool:
        """Whether a connection is open or opening (what is sent goes out on it). Ask inside
        `sending()`: outside, the answer may change at once."""
        return self._outbox is not None

    def sending(self) -> AbstractContextManager[Any]:
        """Hold off the opening of the next connection: what is sent inside is in order
        with what `opening()` returns (it is either among it or sent after it)."""
        return self._lock

    def _run(self) -> None:
        failures = 0
        while not self._closing.is_set():
            attempt = self._connect()
            established, error = attempt or (False, None)
            if attempt is not None and self._on_ended is not None:
                self._on_ended(error)
            if self._closing.is_set():
                return
            if established:
                failures = 0
            code = _code(error)
            if error is not None and self._retryable is not None and code not in self._retryable:
                logger.error("%s: stream to %s failed (%s)", self.name, self.address, code)
                self._closing.set()
                if self._on_failed is not None:
                    self._on_failed(error)
                return
            if established and error is not None:
                logger.warning(
                    "%s: stream to %s broke (%s); reopening", self.name, self.address, code
                )
            elif error is not None:
                failures += 1
                log = logger.warning if failures == 1 else logger.debug
                log("%s: %s unreachable (%s); retrying", self.name, self.address, code)
            # Full jitter keeps a fleet of clients from reconnecting in step.
            ceiling = min(self._initial_backoff * 2 ** max(failures - 1, 0), self._max_backoff)
            self._closing.wait(random.uniform(0, ceiling))

    def _connect(self) -> tuple[bool, grpc.RpcError | None] | None:
        """One connection, until it ends: (whether it was established, the error if any);
        None when there was none (closing, or `opening()` not ready)."""
        outbox: queue.Queue[Any] = queue.Queue()
        with self._lock:
            opening = None if self._closing.is_set() else self._opening()
            if opening is None:
                return None
            for request in opening:
                outbox.put(request)
            self._outbox = outbox
        established = False
        call: Any = None
        try:
            with self._channel_factory(self.address) as channel:
                call = self._open_call(channel, _drain(outbox))
                with self._lock:
                    self._call = call
                    if self._stopping.is_set():
                        call.cancel()
                call.initial_metadata()  # returns once the peer answered or the call ended
                if call.is_active():
                    established = self._established()
                for response in call:
                    if not established:
                        established = self._established()
                    for request in self._on_response(response) or ():
                        outbox.put(request)
            if not self._closing.is_set():
                logger.warning("%s: %s ended the stream; reopening", self.name, self.address)
            return established, None
        except grpc.RpcError as exc:
            return established, None if self._stopping.is_set() else exc
        except Reconnect as exc:
            logger.warning("%s: %s; reconnecting to %s", self.name, exc, self.address)
            return established, None
        except Exception:
            logger.exception("%s: handling a response failed; reconnecting", self.name)
            return established, None
        finally:
            with self._lock:
                self._outbox = None
                self._call = None
            outbox.put(_END)
            if call is not None:
                call.cancel()  # a handler's error left it open; no-op once it ended
            if established:
                self.connected.clear()
                if self._on_connected is not None:
                    self._on_connected(False)

    def _established(self) -> bool:
        self.connected.set()
        logger.info("%s: stream open to %s", self.name, self.address)
        if self._on_connected is not None:
            self._on_connected(True)
        return True


def _code(error: grpc.RpcError | None) -> grpc.StatusCode | None:
    return error.code() if isinstance(error, grpc.Call) else None


def _drain(outbox: queue.Queue[Any]) -> Iterator[Any]:
    while (request := outbox.get()) is not _END:
        yield request
