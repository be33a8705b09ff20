"""A real in-process gRPC peer and a recording ReconnectingStream client, for the stream tests."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures

import grpc

from fraudstream.common.stream import ReconnectingStream

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


def open_talk(channel: grpc.Channel, requests: Iterator[bytes]) -> Iterable[bytes]:
    return channel.stream_stream(METHOD)(requests)  # type: ignore[no-any-return]


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
            open_talk,
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
