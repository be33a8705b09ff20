"""ReconnectingStream against real in-process gRPC servers that go down and come back."""

from __future__ import annotations

import logging
import time

import pytest

from tests.common.stream_peer import Client, Peer
from tests.waiting import wait_for


def test_a_peer_that_is_down_never_counts_as_connected_and_backs_off(port, delays, caplog):
    caplog.set_level(logging.DEBUG, logger="fraudstream.common.stream")
    client = Client(port, initial_backoff=0.02, max_backoff=0.16)
    client.stream.start()
    wait_for(lambda: len(delays) >= 8)
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
        wait_for(lambda: len(delays) >= 4)
        assert client.states == []
        client.generation = 1
        peer.start()
        assert peer.openings.get(timeout=5) == b"hello 1"
        wait_for(lambda: client.states == [True], timeout=2)
        assert client.stream.connected.is_set()
        drawn_before_up = len(delays)

        peer.stop()
        wait_for(lambda: client.states == [True, False])
        assert not client.stream.connected.is_set()
        wait_for(lambda: len(delays) >= drawn_before_up + 3)
        client.generation = 2
        peer.start()
        assert peer.openings.get(timeout=5) == b"hello 2", "the opening is built afresh"
        wait_for(lambda: client.states == [True, False, True], timeout=2)
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
