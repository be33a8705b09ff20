"""Click options every gRPC client command shares: the TLS files and a bearer token."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fraudstream.common.transport import Transport

F = TypeVar("F", bound=Callable[..., Any])

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def tls_options(command: F) -> F:
    """Add --tls-cert, --tls-key and --tls-ca (env FRAUDSTREAM_TLS_*): mutual TLS to services."""
    for name, help_text in reversed(
        [
            ("cert", "Your client certificate (PEM), e.g. client.pem from `fraudstream certs`."),
            ("key", "The key of --tls-cert (PEM)."),
            ("ca", "The CA certificate (PEM) that signs the services' certificates."),
        ]
    ):
        command = click.option(
            f"--tls-{name}",
            f"tls_{name}",
            envvar=f"FRAUDSTREAM_TLS_{name.upper()}",
            type=_FILE,
            default=None,
            help=f"{help_text} Env FRAUDSTREAM_TLS_{name.upper()}.",
        )(command)
    return command


def client_transport(
    tls_cert: Path | None, tls_key: Path | None, tls_ca: Path | None, token: str | None = None
) -> Transport:
    """The transport of a command: mTLS with the three files (or plaintext), `token` on calls."""
    try:
        return Transport(tls_cert, tls_key, tls_ca, token or None)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
