"""How a process speaks gRPC: mutual TLS from certificate files, or plaintext on loopback.

One `Transport` per process, built from its settings (`FRAUDSTREAM_TLS_CERT`, `_KEY`, `_CA`
and its own `FRAUDSTREAM_SERVICE_TOKEN`), gives the server its credentials and every client
its channels, so TLS and caller identity are decided in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

logger = logging.getLogger(__name__)

ChannelOptions = Sequence[tuple[str, Any]]
# For a probe waiting on a process that is (re)starting: reconnect every 20-50 ms once a
# connection was refused, instead of gRPC's default backoff (1 s, growing 1.6x), which would
# see a service come up seconds late.
FAST_RECONNECT: ChannelOptions = (
    ("grpc.initial_reconnect_backoff_ms", 20),
    ("grpc.min_reconnect_backoff_ms", 20),
    ("grpc.max_reconnect_backoff_ms", 50),
)


class _BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer <token>` to every call of a channel (TLS or plaintext).

    A call that carries its own authorization (a person's token) keeps it.
    """

    def __init__(self, token: str) -> None:
        self._entry = ("authorization", f"Bearer {token}")

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = list(details.metadata or ())
        if any(key == "authorization" for key, _ in metadata):
            return details
        return _CallDetails(
            details.method,
            details.timeout,
            [*metadata, self._entry],
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: Any, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: Any, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):  # type: ignore[misc]
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


@dataclass(frozen=True)
class Transport:
    """TLS files (all three or none) and this process's own bearer token (optional)."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    token: str | None = None

    def __post_init__(self) -> None:
        given = [p is not None for p in (self.cert, self.key, self.ca)]
        if any(given) and not all(given):
            raise ValueError(
                "TLS needs all three of FRAUDSTREAM_TLS_CERT, FRAUDSTREAM_TLS_KEY and "
                "FRAUDSTREAM_TLS_CA (or none of them for plaintext)"
            )

    @classmethod
    def from_settings(cls, settings: Any) -> Transport:
        """From a ServiceSettings-like object (`tls_cert`, `tls_key`, `tls_ca`, `service_token`)."""
        return cls(
            getattr(settings, "tls_cert", None),
            getattr(settings, "tls_key", None),
            getattr(settings, "tls_ca", None),
            getattr(settings, "service_token", None) or None,
        )

    @property
    def secure(self) -> bool:
        return self.cert is not None

    def _read(self) -> tuple[bytes, bytes, bytes]:
        assert self.cert is not None and self.key is not None and self.ca is not None
        try:
            return self.cert.read_bytes(), self.key.read_bytes(), self.ca.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read TLS file {exc.filename}: {exc.strerror}") from exc

    def server_credentials(self) -> grpc.ServerCredentials:
        """mTLS server credentials: this process's certificate; client certificates required."""
        cert, key, ca = self._read()
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=True
        )

    def add_port(self, server: grpc.Server, address: str) -> int:
        """Bind `address` with mTLS (client certificates required) or plaintext; the port."""
        if not self.secure:
            return int(server.add_insecure_port(address))
        return int(server.add_secure_port(address, self.server_credentials()))

    def channel(self, address: str, options: ChannelOptions = ()) -> grpc.Channel:
        """A channel to `address` presenting this process's certificate and token."""
        if self.secure:
            cert, key, ca = self._read()
            credentials = grpc.ssl_channel_credentials(ca, key, cert)
            channel = grpc.secure_channel(address, credentials, options=list(options))
        else:
            channel = grpc.insecure_channel(address, options=list(options))
        if self.token:
            channel = grpc.intercept_channel(channel, _BearerToken(self.token))
        return channel


PLAINTEXT = Transport()
