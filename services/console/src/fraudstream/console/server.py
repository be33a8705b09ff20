"""Wiring of the console: gRPC channels, the core, the Flask app, and its waitress HTTP server."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

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

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[attr-defined]

    @property
    def host(self) -> str:
        return str(self._server.effective_host)  # type: ignore[attr-defined]

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.run,  # type: ignore[attr-defined]
            name="console-http",
            daemon=True,
        )
        self._thread.start()

    def stop(self, grace: float) -> None:
        """Stop accepting, end every session (giving cases back), close the channels."""
        server = self._server
        # waitress has no public stop for a server run in a thread: close its sockets and
        # channels, the way its own test helpers do, so run()'s loop ends.
        server.close()  # type: ignore[attr-defined]
        for channel in list(server._map.values()):  # type: ignore[attr-defined]
            channel.handle_close()
        server.task_dispatcher.shutdown(timeout=grace)  # type: ignore[attr-defined]
        if self._thread is not None:
            self._thread.join(grace)
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
