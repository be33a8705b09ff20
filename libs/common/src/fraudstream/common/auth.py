"""Who is calling and what they may do: principals from mTLS or bearer tokens, a per-RPC policy.

Two kinds of callers (docs/security.md):
- services prove who they are with their certificate (mutual TLS: the common name is the
  service, e.g. `ingest`) or, on a plaintext loopback setup, with a service token;
- people (analysts, operators) send `authorization: Bearer <token>`; their roles come from
  the token table: `viewer` reads, `labeler` also labels, `admin` also rolls models back.

Tokens are stored as sha256 hashes, one per line of a tokens file:
    <name> <role>[,<role>...] sha256:<hex of sha256(token)>
A role `service:<name>` makes the token a service credential. Health and reflection are
open to everyone; every other RPC names the roles it admits in its service's policy.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from fraudstream.common.errors import PermissionDenied, Unauthenticated

logger = logging.getLogger(__name__)

VIEWER, LABELER, ADMIN = "viewer", "labeler", "admin"
PERSON_ROLES: tuple[str, ...] = (VIEWER, LABELER, ADMIN)
# Roles a role implies: a labeler may read, an admin may label and read.
_IMPLIED: dict[str, tuple[str, ...]] = {LABELER: (VIEWER,), ADMIN: (LABELER, VIEWER)}
SERVICE_NAMES: tuple[str, ...] = ("scorer", "feedback", "learner", "ingest", "console")
OPEN_SERVICES: tuple[str, ...] = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)


def service_role(name: str) -> str:
    """The role a service's own identity carries (`service:ingest`)."""
    return f"service:{name}"


def token_digest(token: str) -> str:
    """How a token is stored: `sha256:<hex>` (the token itself is never written down)."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a name (recorded with labels) and its roles."""

    name: str
    roles: frozenset[str]
    via: str  # "mtls" or "token"

    def may(self, allowed: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(allowed)


# Who an anonymous caller is when the development switch admits them.
ANONYMOUS = Principal("anonymous", frozenset(), "anonymous")


def _with_implied(roles: Iterable[str]) -> frozenset[str]:
    expanded = set(roles)
    for role in list(expanded):
        expanded.update(_IMPLIED.get(role, ()))
    return frozenset(expanded)


# Tokens whose owners a table remembers (a service has a few callers; cleared when full).
_FOUND_LIMIT = 1024


class TokenTable:
    """Bearer tokens by hash, each with its owner's name and roles; constant-time lookups."""

    def __init__(self, entries: Iterable[tuple[str, frozenset[str], bytes]] = ()) -> None:
        self._entries = list(entries)
        # Owners of tokens already found, by the token's digest, with the entries they were
        # found in: a caller's every call after its first skips the comparisons, and a table
        # read again (TokensFile) makes them stale. Only found tokens are kept, so callers
        # with unknown tokens cannot grow it.
        self._found: dict[bytes, tuple[Principal, list[tuple[str, frozenset[str], bytes]]]] = {}

    @classmethod
    def parse(cls, lines: Iterable[str], source: str) -> TokenTable:
        """Entries from tokens-file lines; errors name the line, never a secret."""
        entries: list[tuple[str, frozenset[str], bytes]] = []
        seen: set[bytes] = set()
        for number, raw in enumerate(lines, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 3 or not parts[2].startswith("sha256:"):
                raise ValueError(f"{source}:{number}: expected '<name> <roles> sha256:<hex>'")
            name, roles, digest_hex = parts[0], parts[1].split(","), parts[2][7:]
            unknown = [r for r in roles if r not in PERSON_ROLES and not r.startswith("service:")]
            if unknown:
                raise ValueError(f"{source}:{number}: unknown role(s) {unknown}")
            try:
                digest = bytes.fromhex(digest_hex)
            except ValueError:
                digest = b""
            if len(digest) != 32:
                raise ValueError(f"{source}:{number}: the sha256 must be 64 hex digits")
            if digest in seen:
                raise ValueError(f"{source}:{number}: repeats an earlier token")
            seen.add(digest)
            entries.append((name, _with_implied(roles), digest))
        return cls(entries)

    @classmethod
    def from_file(cls, path: Path) -> TokenTable:
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"cannot read the tokens file {path}: {exc.strerror}") from exc
        return cls.parse(text.splitlines(), str(path))

    @classmethod
    def from_plain(cls, entries: Iterable[str], roles: Iterable[str]) -> TokenTable:
        """Entries given in clear as `name:token` (a setting for local runs); all get `roles`."""
        table: list[tuple[str, frozenset[str], bytes]] = []
        seen: set[bytes] = set()
        # Errors name the entry by number, never by value: it is a secret.
        for number, entry in enumerate(entries, start=1):
            name, sep, token = entry.partition(":")
            if not sep:
                name, token = "analyst-" + hashlib.sha256(entry.encode()).hexdigest()[:8], entry
            if not name or not token:
                raise ValueError(f"token entry {number} is not 'name:token' or 'token'")
            digest = hashlib.sha256(token.encode()).digest()
            if digest in seen:
                raise ValueError(f"token entry {number} repeats an earlier token")
            seen.add(digest)
            table.append((name, _with_implied(roles), digest))
        return cls(table)

    def merged(self, other: TokenTable) -> TokenTable:
        return TokenTable([*self._entries, *other._entries])

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, token: str) -> Principal | None:
        """The owner of `token`; every entry is compared, so timing says nothing."""
        given = hashlib.sha256(token.encode()).digest()
        entries = self._entries
        known = self._found.get(given)
        if known is not None and known[1] is entries:
            return known[0]
        found: Principal | None = None
        for name, roles, digest in entries:
            if hmac.compare_digest(given, digest):
                found = Principal(name, roles, "token")
        if found is not None:
            if len(self._found) >= _FOUND_LIMIT:
                self._found.clear()
            self._found[given] = (found, entries)
        return found


def bearer_token(metadata: Iterable[tuple[str, str | bytes]]) -> str | None:
    """The token of an `authorization: Bearer <token>` entry, if any."""
    for key, value in metadata:
        if key == "authorization":
            text = value.decode(errors="replace") if isinstance(value, bytes) else value
            scheme, _, token = text.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("the authorization metadata must be 'Bearer <token>'")
            return token.strip()
    return None


class Authenticator:
    """Finds the principal of a call and checks it against the service's policy.

    `policy` maps a method name (`ListAlerts`) to the roles it admits. A method missing from
    the policy admits nobody (fail closed); health and reflection admit everybody.
    """

    def __init__(
        self,
        tokens: TokenTable,
        policy: Mapping[str, Iterable[str]],
        *,
        mtls: bool = True,
        allow_anonymous: bool = False,
    ) -> None:
        self._tokens = tokens
        self._policy = {method: frozenset(roles) for method, roles in policy.items()}
        # With neither certificates nor tokens nobody could ever be admitted: say how to fix it.
        self.configured = mtls or len(tokens) > 0
        self.allow_anonymous = allow_anonymous
        # Told the method of every call refused as unauthenticated (a service's own metric).
        self.on_unauthenticated: Callable[[str], None] | None = None

    def principal(self, context: grpc.ServicerContext) -> Principal | None:
        """The caller: a bearer token's owner first, else the service its certificate names."""
        token = bearer_token(context.invocation_metadata() or ())
        if token is not None:
            found = self._tokens.lookup(token)
            if found is None:
                raise Unauthenticated("unknown bearer token")
            return found
        auth: Mapping[str, Iterable[Any]] = context.auth_context() or {}
        names = [bytes(n).decode(errors="replace") for n in auth.get("x509_common_name", [])]
        if names and names[0] in SERVICE_NAMES:
            return Principal(names[0], frozenset({service_role(names[0])}), "mtls")
        return None

    def require(self, full_method: str, context: grpc.ServicerContext) -> Principal | None:
        """Raise Unauthenticated or PermissionDenied unless the caller may call `full_method`."""
        service, _, method = full_method.strip("/").rpartition("/")
        if service in OPEN_SERVICES:
            return None
        try:
            return self._check(method, context)
        except Unauthenticated:
            if self.on_unauthenticated is not None:
                self.on_unauthenticated(method)
            raise

    def _check(self, method: str, context: grpc.ServicerContext) -> Principal:
        allowed = self._policy.get(method, frozenset())
        principal = self.principal(context)
        if principal is None and self.allow_anonymous and method in self._policy:
            return ANONYMOUS  # a development switch, announced loudly at start
        if principal is None and not self.configured:
            raise Unauthenticated(
                f"{method} refused: this service has no credentials configured. Set "
                "FRAUDSTREAM_TLS_CERT/_KEY/_CA (mutual TLS) or FRAUDSTREAM_ANALYST_TOKENS_FILE "
                "(service and analyst tokens); for local development only, "
                "FRAUDSTREAM_INSECURE_ALLOW_ANONYMOUS=1"
            )
        if principal is None:
            raise Unauthenticated(
                f"{method} needs a caller identity: a service certificate (mTLS) or "
                "metadata 'authorization: Bearer <token>'"
            )
        if not principal.may(allowed):
            raise PermissionDenied(
                f"{principal.name} may not call {method} (it needs one of: "
                f"{', '.join(sorted(allowed)) or 'no role'})"
            )
        return principal


def principal_name(context: grpc.ServicerContext, authenticator: Authenticator) -> str:
    """The name of the authenticated caller (for records such as who labeled a case)."""
    principal = authenticator.principal(context)
    if principal is None and authenticator.allow_anonymous:
        return ANONYMOUS.name
    if principal is None:
        raise Unauthenticated("this call needs an authenticated caller")
    return principal.name
