"""ReconnectingStream's traffic on a live connection: responses turned into requests, a fresh
opening on demand, stopping and closing, errors that end the stream."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import grpc

from fraudstream.common.stream import Reconnect
from tests.common.stream_peer import METHOD, Client, Peer
from tests.waiting import wait_for


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
        wait_for(lambda: client.states == [True, False, True])
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
    wait_for(lambda: client.attempts == 1)
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
    wait_for(lambda: client.attempts == 1)
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
