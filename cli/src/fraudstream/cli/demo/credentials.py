"""The demo's credentials: a tokens file with a token per service and per person, certificates.

Everything lives under the run directory and is made fresh each run: each service gets its
own service token (and, with --tls, its own certificate from the same local CA as
`fraudstream certs` makes), the simulated analysts a labeler token, and the demo's own
probes an operator token (viewer); an experiment that rolls back asks for an admin token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from fraudstream.common import certs
from fraudstream.common.auth import ADMIN, LABELER, SERVICE_NAMES, VIEWER, token_digest
from fraudstream.common.transport import Transport

ANALYST, OPERATOR, ADMINISTRATOR = "demo-analyst", "demo-operator", "demo-admin"


@dataclass(frozen=True)
class DemoCredentials:
    """Tokens in clear (the file holds only their hashes) and, under --tls, the certificates."""

    directory: Path
    tokens: dict[str, str]
    tls: bool

    @classmethod
    def create(
        cls, directory: Path, *, tls: bool, analyst_token: str, admin: bool = False
    ) -> DemoCredentials:
        """Write `<directory>/tokens` (and `<directory>/certs/` with `tls`); with `admin`, also
        an ADMINISTRATOR token (the Rollback RPC needs the admin role)."""
        # Absolute: the services run in the stack's own working directory.
        directory = directory.resolve()
        directory.mkdir(parents=True, exist_ok=True)
        tokens = {name: secrets.token_urlsafe(24) for name in (*SERVICE_NAMES, OPERATOR)}
        tokens[ANALYST] = analyst_token
        lines = [f"{n} service:{n} {token_digest(tokens[n])}" for n in SERVICE_NAMES]
        lines.append(f"{OPERATOR} {VIEWER} {token_digest(tokens[OPERATOR])}")
        lines.append(f"{ANALYST} {LABELER} {token_digest(analyst_token)}")
        if admin:
            tokens[ADMINISTRATOR] = secrets.token_urlsafe(24)
            lines.append(f"{ADMINISTRATOR} {ADMIN} {token_digest(tokens[ADMINISTRATOR])}")
        tokens_file = directory / "tokens"
        tokens_file.write_text("\n".join(lines) + "\n")
        tokens_file.chmod(0o600)
        if tls:
            certs.make_certificates(directory / "certs")
        return cls(directory, tokens, tls)

    @property
    def tokens_file(self) -> Path:
        return self.directory / "tokens"

    @property
    def transport_name(self) -> str:
        return "mutual TLS" if self.tls else "plaintext on loopback"

    def _files(self, name: str) -> tuple[Path, Path, Path]:
        found = certs.paths(self.directory / "certs", name)
        return found.cert, found.key, self.directory / "certs" / "ca.pem"

    def env(self, service: str) -> dict[str, str]:
        """What process `service` needs: the tokens file, its own token, its certificate."""
        found = {
            "FRAUDSTREAM_ANALYST_TOKENS_FILE": str(self.tokens_file),
            "FRAUDSTREAM_SERVICE_TOKEN": self.tokens[service],
        }
        if self.tls:
            cert, key, ca = self._files(service)
            found |= {
                "FRAUDSTREAM_TLS_CERT": str(cert),
                "FRAUDSTREAM_TLS_KEY": str(key),
                "FRAUDSTREAM_TLS_CA": str(ca),
            }
        return found

    def transport(self, who: str | None = OPERATOR) -> Transport:
        """The demo's own client side: the client certificate under TLS, `who`'s token."""
        token = self.tokens[who] if who is not None else None
        if not self.tls:
            return Transport(token=token)
        return Transport(*self._files(certs.CLIENT), token)

    def tls_flags(self) -> str:
        """The TLS flags of `fraudstream review` and `readiness` for this run ('' plaintext)."""
        if not self.tls:
            return ""
        cert, key, ca = self._files(certs.CLIENT)
        return f" --tls-cert {cert} --tls-key {key} --tls-ca {ca}"
