"""Who may label: bearer tokens from settings, each naming the analyst it belongs to."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable

from fraudstream.common.errors import Unauthenticated

logger = logging.getLogger(__name__)

_SCHEME = "bearer"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def analyst_for_bare_token(token: str) -> str:
    """The analyst name of a token configured without one: stable, and reveals nothing usable."""
    return "analyst-" + hashlib.sha256(token.encode()).hexdigest()[:8]


class AnalystAuth:
    """Checks `authorization: Bearer <token>` against the configured tokens.

    Each configured entry is `name:token` (the label records `name`) or a bare
    `token` (recorded as `analyst-<first 8 hex of its sha256>`). Comparison is
    constant-time: both sides are hashed to a fixed length and every configured
    token is compared, whatever matched earlier.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self._tokens: list[tuple[bytes, str]] = []
        seen: set[bytes] = set()
        # Errors name the entry by number, never by value: it is a secret.
        for number, entry in enumerate(entries, start=1):
            name, sep, token = entry.partition(":")
            if not sep:
                name, token = analyst_for_bare_token(entry), entry
            if not token or not name:
                raise ValueError(f"analyst token entry {number} is not 'name:token' or 'token'")
            digest = _digest(token)
            if digest in seen:
                raise ValueError(f"analyst token entry {number} repeats an earlier token")
            seen.add(digest)
            self._tokens.append((digest, name))
        if not self._tokens:
            logger.warning("no analyst tokens configured: every labeling attempt is refused")

    @property
    def analysts(self) -> list[str]:
        return [name for _, name in self._tokens]

    def identify(self, authorization: str | None) -> str:
        """The analyst a header value authenticates; raises Unauthenticated otherwise."""
        if not authorization:
            raise Unauthenticated("labeling needs metadata 'authorization: Bearer <token>'")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != _SCHEME or not token.strip():
            raise Unauthenticated("the authorization metadata must be 'Bearer <token>'")
        given = _digest(token.strip())
        analyst = ""
        for digest, name in self._tokens:
            if hmac.compare_digest(given, digest):
                analyst = name
        if not analyst:
            raise Unauthenticated("unknown analyst token")
        return analyst
