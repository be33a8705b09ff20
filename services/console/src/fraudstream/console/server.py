"""Wiring of the console: gRPC channels, the core, the Flask app, and its waitress HTTP server."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import grpc
from flask import Flask
from waitress.server import create_server

from fraudstream.common.transport import Transport
from fraudstream.console.backend import Backend
from fraudstream.console.console import Console, Timing
from fraudstream.console.metrics import ConsoleMetrics
from fraudstream.console.roles import RoleBook
from fraudstream.console.settings import ConsoleSettings
from fraudstream.console.web import create_app

logger = logging.getLogger(__name__)

_SWEEP_SECONDS = 15.0


@dataclass
class ConsoleDeps:
    """What the console needs besides its settings."""

    metrics: ConsoleMetrics
    roles: RoleBook


class ConsoleServer:
    """The console's HTTP server (bound, not yet serving) and the channels it owns."""

    def __init__(
        self, server: object, app: Flask, console: Console, channels: list[grpc.Channel]
    ) -> None:
        self._server = server
        self.app = app
        self.console = console
        self._channels = channels
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[attr-defined]

    @property
    def host(self) -> str:
        return str(self._server.effective_host)  # type: ignore[attr-defined]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="console-http", daemon=True)
        self._thread.start()
        threading.Thread(target=self._sweep, name="console-sessions", daemon=True).start()

    def _sweep(self) -> None:
        # Requests sweep too; this ends sessions nobody comes back to, so the cases they
        # hold return to the queue now rather than when their leases run out.
        while not self._stopping.wait(_SWEEP_SECONDS):
            self.console.sessions.sweep()

    def _serve(self) -> None:
        # waitress's own run() loops until its socket map is empty and has no public stop:
        # poll one round at a time instead, so stop() ends the loop before closing sockets
        # (closing them under a running select() races with it).
        server: Any = self._server
        while not self._stopping.is_set():
            server.asyncore.loop(timeout=0.5, map=server._map, count=1)

    def stop(self, grace: float) -> None:
        """Stop accepting, end every session (giving cases back), close the channels."""
        server: Any = self._server
        self._stopping.set()
        server.pull_trigger()  # wakes the poll at once
        if self._thread is not None:
            self._thread.join(grace)
        server.close()
        for channel in list(server._map.values()):
            channel.handle_close()
        server.task_dispatcher.shutdown(timeout=grace)
        self.console.close()
        for channel in self._channels:
            channel.close()


def build_console(settings: ConsoleSettings, deps: ConsoleDeps) -> ConsoleServer:
    """Build the console (bound, not started). Tests call this with port 0."""
    # The console's own certificate under mTLS, but no token of its own on the channels:
    # every call carries the signed-in analyst's token instead.
    transport = Transport(settings.tls_cert, settings.tls_key, settings.tls_ca)
    feedback = transport.channel(settings.feedback_addr)
    learner = transport.channel(settings.learner_addr)
    console = Console(
        Backend(feedback, learner, settings.rpc_timeout_seconds),
        deps.roles,
        deps.metrics,
        idle_seconds=settings.session_idle_minutes * 60,
        lifetime_seconds=settings.session_max_hours * 3600,
        timing=Timing(take_wait=settings.take_wait_seconds, ack_wait=settings.rpc_timeout_seconds),
    )
    app = create_app(console, settings)
    server = create_server(
        app,
        host=settings.host,
        port=settings.port,
        threads=settings.max_workers,
        ident="fraudstream-console",
        clear_untrusted_proxy_headers=True,
    )
    return ConsoleServer(server, app, console, [feedback, learner])
