"""ReconnectingStream against real in-process gRPC servers that go down and come back."""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures

import grpc
import pytest

from fraudstream.common import stream as stream_module
from fraudstream.common.stream import Reconnect, ReconnectingStream

METHOD = "/test.Peer/Talk"


class Peer:
    """A bidi peer on `port`: records each call's first request and the rest, pushes replies.

    With `send_metadata`, it answers the call at once (initial metadata), as the services do.
    It echoes every later request as b"re:" + request and ends the call when the client
    half-closes.
    """

    def __init__(self, port: int, send_metadata: bool = True) -> None:
        self.port = port
        self.send_metadata = send_metadata
        self.openings: queue.Queue[bytes] = queue.Queue()
        self.received: queue.Queue[bytes] = queue.Queue()
        self.push: queue.Queue[bytes] = queue.Queue()
        self.calls = 0
        self._server: grpc.Server | None = None

    def start(self) -> None:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.stream_stream_rpc_method_handler(self._talk)
        generic = grpc.method_handlers_generic_handler("test.Peer", {"Talk": handler})
        server.add_generic_rpc_handlers((generic,))
        assert server.add_insecure_port(f"127.0.0.1:{self.port}") == self.port
        server.start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(0).wait()
            self._server = None

    def _talk(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        self.calls += 1
        if self.send_metadata:
            context.send_initial_metadata(())
        opening = next(requests, None)
        if opening is None:
            return
        self.openings.put(opening)
        replies: queue.Queue[bytes | None] = queue.Queue()

        def read() -> None:
            try:
                for request in requests:
                    self.received.put(request)
                    replies.put(b"re:" + request)
            except grpc.RpcError:
                pass
            replies.put(None)

        threading.Thread(target=read, daemon=True).start()
        while context.is_active():
            if not self.push.empty():
                yield self.push.get()
            try:
                reply = replies.get(timeout=0.02)
            except queue.Empty:
                continue
            if reply is None:
                return
            yield reply


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _open(channel: grpc.Channel, requests: Iterator[bytes]) -> Iterable[bytes]:
    return channel.stream_stream(METHOD)(requests)  # type: ignore[no-any-return]


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class Client:
    """A ReconnectingStream whose opening carries a generation the test bumps, recording all."""

    def __init__(self, port: int, **options: object) -> None:
        self.generation = 0
        self.states: list[bool] = []
        self.responses: queue.Queue[bytes] = queue.Queue()
        self.attempts = 0
        self.failures: list[grpc.RpcError] = []
        self.reply: Callable[[bytes], list[bytes]] = lambda response: []
        self.stream: ReconnectingStream[bytes, bytes] = ReconnectingStream(
            "test-stream",
            f"127.0.0.1:{port}",
            _open,
            lambda: [b"hello %d" % self.generation],
            self._on_response,
            on_connected=self.states.append,
            on_failed=self.failures.append,
            channel_factory=self._channel,
            **options,  # type: ignore[arg-type]
        )

    def _channel(self, address: str) -> grpc.Channel:
        self.attempts += 1
        return grpc.insecure_channel(address)

    def _on_response(self, response: bytes) -> list[bytes]:
        self.responses.put(response)
        return self.reply(response)


@pytest.fixture
def port() -> int:
    return _free_port()


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every backoff ceiling the client draws from; the draw returns the ceiling."""
    drawn: list[float] = []

    def ceiling(low: float, high: float) -> float:
        drawn.append(high)
        return high

    monkeypatch.setattr(stream_module.random, "uniform", ceiling)
    return drawn


def test_a_peer_that_is_down_never_counts_as_connected_and_backs_off(port, delays, caplog):
    caplog.set_level(logging.DEBUG, logger="fraudstream.common.stream")
    client = Client(port, initial_backoff=0.02, max_backoff=0.16)
    client.stream.start()
    _wait_for(lambda: len(delays) >= 8)
    client.stream.stop()

    assert client.states == []
    assert not client.stream.connected.is_set()
    assert not any("stream open" in r.getMessage() for r in caplog.records)
    assert delays[:6] == pytest.approx([0.02, 0.04, 0.08, 0.16, 0.16, 0.16])
    assert delays == sorted(delays), "a failed attempt must not reset the backoff"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, "only the first failed attempt is a warning"


def test_down_then_up_then_down_then_up(port, delays):
    peer = Peer(port)
    client = Client(port, initial_backoff=0.02, max_backoff=0.1)
    client.stream.start()
    try:
        _wait_for(lambda: len(delays) >= 4)
        assert client.states == []
        client.generation = 1
        peer.start()
        assert peer.openings.get(timeout=5) == b"hello 1"
        _wait_for(lambda: client.states == [True], timeout=2)
        assert client.stream.connected.is_set()
        drawn_before_up = len(delays)

        peer.stop()
        _wait_for(lambda: client.states == [True, False])
        assert not client.stream.connected.is_set()
        _wait_for(lambda: len(delays) >= drawn_before_up + 3)
        client.generation = 2
        peer.start()
        assert peer.openings.get(timeout=5) == b"hello 2", "the opening is built afresh"
        _wait_for(lambda: client.states == [True, False, True], timeout=2)
    finally:
        client.stream.stop()
        peer.stop()
    assert client.states == [True, False, True, False]
    # The established connection started the backoff over from the initial one.
    assert delays[drawn_before_up - 1] == pytest.approx(0.1)
    assert delays[drawn_before_up : drawn_before_up + 3] == pytest.approx([0.02, 0.02, 0.04])


def test_an_idle_stream_is_connected_within_a_second(port):
    peer = Peer(port)
    peer.start()
    client = Client(port)
    started = time.monotonic()
    client.stream.start()
    try:
        assert client.stream.connected.wait(timeout=1.0)
        assert client.states == [True]
        assert time.monotonic() - started < 1.0
        assert client.responses.empty()
    finally:
        client.stream.stop()
        peer.stop()


def test_a_silent_peer_counts_only_from_its_first_response(port):
    peer = Peer(port, send_metadata=False)
    peer.start()
    client = Client(port)
    client.stream.start()
    try:
        assert peer.openings.get(timeout=5) == b"hello 0"
        assert not client.stream.connected.wait(timeout=0.5)
        peer.push.put(b"news")
        assert client.responses.get(timeout=5) == b"news"
        assert client.stream.connected.is_set()
        assert client.states == [True]
    finally:
        client.stream.stop()
        peer.stop()


def test_responses_turn_into_the_next_requests_in_order(port):
    peer = Peer(port)
    peer.start()
    client = Client(port)
    client.reply = lambda response: [b"ack " + response] if not response.startswith(b"re:") else []
    client.stream.start()
    try:
        assert peer.openings.get(timeout=5) == b"hello 0"
        for news in (b"a", b"b", b"c"):
            peer.push.put(news)
        assert [peer.received.get(timeout=5) for _ in range(3)] == [b"ack a", b"ack b", b"ack c"]
        assert client.stream.send(b"x", b"y")
        replies = [client.responses.get(timeout=5) for _ in range(8)]
        echoes = [r for r in replies if r.startswith(b"re:")]
        assert [r for r in replies if r not in echoes] == [b"a", b"b", b"c"]
        assert echoes == [b"re:ack a", b"re:ack b", b"re:ack c", b"re:x", b"re:y"]
    finally:
        client.stream.stop()
        peer.stop()


def test_a_handler_can_ask_for_a_new_connection_with_a_fresh_opening(port):
    peer = Peer(port)
    peer.start()
    client = Client(port, initial_backoff=0.02)

    def reply(response: bytes) -> list[bytes]:
        client.generation += 1
        raise Reconnect(f"gap after {response!r}")

    client.reply = reply
    client.stream.start()
    try:
        assert peer.openings.get(timeout=5) == b"hello 0"
        peer.push.put(b"gap")
        assert peer.openings.get(timeout=5) == b"hello 1"
        _wait_for(lambda: client.states == [True, False, True])
    finally:
        client.stream.stop()
        peer.stop()


def test_stop_while_connecting_cancels_and_joins(port):
    # wait_for_ready: the call itself waits for the peer, so stop() must cancel it.
    def open_waiting(channel: grpc.Channel, requests: Iterator[bytes]) -> Iterable[bytes]:
        return channel.stream_stream(METHOD)(requests, wait_for_ready=True)  # type: ignore[no-any-return]

    client = Client(port)
    client.stream._open_call = open_waiting
    client.stream.start()
    _wait_for(lambda: client.attempts == 1)
    time.sleep(0.2)
    started = time.monotonic()
    client.stream.stop()
    assert time.monotonic() - started < 2.0
    assert not client.stream._thread.is_alive()
    assert client.states == []
    assert client.failures == []


def test_stop_during_backoff_returns_at_once(port):
    client = Client(port, initial_backoff=30.0, max_backoff=30.0)
    client.stream.start()
    _wait_for(lambda: client.attempts == 1)
    time.sleep(0.2)
    started = time.monotonic()
    client.stream.stop()
    assert time.monotonic() - started < 2.0
    assert client.stream.wait(0)


def test_close_sends_what_is_queued_and_ends_without_reconnecting(port):
    peer = Peer(port)
    peer.start()
    client = Client(port, initial_backoff=0.02)
    client.stream.start()
    try:
        assert client.stream.connected.wait(timeout=5)
        with client.stream.sending():
            client.stream.send(b"last")
            client.stream.close()
        assert client.stream.wait(5), "the stream ends once the peer ended the call"
        assert peer.received.get(timeout=1) == b"last"
        assert client.responses.get(timeout=1) == b"re:last"
        assert peer.calls == 1
        assert not client.stream.send(b"late")
    finally:
        client.stream.stop()
        peer.stop()


def test_an_error_that_is_not_retryable_ends_the_stream(port):
    client = Client(port, retryable={grpc.StatusCode.INTERNAL})
    client.stream.start()
    assert client.stream.wait(5)
    (failure,) = client.failures
    assert failure.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert client.attempts == 1
