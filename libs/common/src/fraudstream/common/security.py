"""A service's security from its settings: its transport, who may call what, its limits.

Every server builds these the same way, so that TLS, tokens, the anonymous development switch
and the resource limits mean the same thing in each of them (docs/security.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraudstream.common.auth import Authenticator, Principal, TokenTable
from fraudstream.common.limits import LimitMetrics
from fraudstream.common.settings import ServiceSettings
from fraudstream.common.transport import Transport

logger = logging.getLogger(__name__)


class TokensFile(TokenTable):
    """The tokens file, read again when it changes (looked at once a second at most), so a
    token is added or revoked without a restart; `extra` entries are kept beside it.

    A file that stops parsing keeps the last good table (and says so in the log).
    """

    _CHECK_SECONDS = 1.0

    def __init__(self, path: Path, extra: TokenTable) -> None:
        self._path = path
        self._extra = extra
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stamp = self._read_stamp()
        super().__init__(TokenTable.from_file(path).merged(extra)._entries)

    def _read_stamp(self) -> tuple[int, int]:
        try:
            stat = self._path.stat()
        except OSError as exc:
            raise ValueError(f"cannot read the tokens file {self._path}: {exc.strerror}") from exc
        return stat.st_mtime_ns, stat.st_size

    def _refresh(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._checked < self._CHECK_SECONDS:
                return
            self._checked = now
            try:
                stamp = self._read_stamp()
                if stamp == self._stamp:
                    return
                self._entries = TokenTable.from_file(self._path).merged(self._extra)._entries
                self._stamp = stamp
                logger.info("tokens file %s read again: %d entries", self._path, len(self))
            except ValueError as exc:
                logger.error("tokens file not read again, the last good one stays: %s", exc)

    def lookup(self, token: str) -> Principal | None:
        self._refresh()
        return super().lookup(token)


@dataclass(frozen=True)
class ServerSecurity:
    """What `build_grpc_service` needs to bind a service securely and keep it bounded."""

    transport: Transport
    authenticator: Authenticator
    max_streams: int
    max_message_bytes: int

    def grpc_options(self) -> dict[str, Any]:
        """Keyword arguments of `build_grpc_service`."""
        return {
            "transport": self.transport,
            "authenticator": self.authenticator,
            "max_streams": self.max_streams,
            "max_message_bytes": self.max_message_bytes,
        }

    def describe(self) -> str:
        """One line for the start-up log: transport and who is admitted."""
        transport = "mutual TLS" if self.transport.secure else "plaintext"
        if self.authenticator.allow_anonymous:
            callers = "ANONYMOUS CALLERS ADMITTED"
        elif self.authenticator.configured:
            callers = "callers authenticated"
        else:
            callers = "no credentials configured: data RPCs refused"
        return f"{transport}, {callers}, at most {self.max_streams} streams"


def server_security(
    settings: ServiceSettings,
    policy: Mapping[str, Iterable[str]],
    *,
    service: str,
    clear_tokens: TokenTable | None = None,
    metrics: LimitMetrics | None = None,
) -> ServerSecurity:
    """Transport, authenticator and limits of `service` from its settings.

    Tokens come from `settings.analyst_tokens_file` merged with `clear_tokens` (clear entries a
    service accepts for local runs). Raises ValueError for a tokens or TLS file that is wrong.
    """
    transport = Transport.from_settings(settings)
    tokens: TokenTable = clear_tokens if clear_tokens is not None else TokenTable()
    if settings.analyst_tokens_file is not None:
        tokens = TokensFile(settings.analyst_tokens_file, tokens)
    authenticator = Authenticator(
        tokens,
        policy,
        mtls=transport.secure,
        allow_anonymous=settings.insecure_allow_anonymous,
    )
    if transport.secure:
        transport.server_credentials()  # read the files now: a missing one fails at start
    if metrics is not None:
        metrics.anonymous_allowed.set(1 if settings.insecure_allow_anonymous else 0)
    if settings.insecure_allow_anonymous:
        logger.warning(
            "INSECURE: %s admits anonymous callers to every RPC "
            "(--insecure-allow-anonymous); never run it like this outside development",
            service,
        )
    elif not authenticator.configured:
        logger.warning(
            "%s has neither TLS certificates nor a tokens file: every data RPC is refused "
            "with UNAUTHENTICATED (set FRAUDSTREAM_TLS_CERT/_KEY/_CA or "
            "FRAUDSTREAM_ANALYST_TOKENS_FILE; see docs/security.md)",
            service,
        )
    return ServerSecurity(
        transport, authenticator, settings.stream_limit(), settings.max_message_bytes
    )
