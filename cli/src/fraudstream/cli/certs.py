"""`fraudstream certs` and `fraudstream tokens`: the credentials of a secured deployment."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from fraudstream.common import certs as local_ca
from fraudstream.common.auth import PERSON_ROLES, TokenTable, token_digest
from fraudstream.model.signing import PRIVATE_NAME, make_signing_key


@click.command("certs")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/certs"),
    show_default=True,
    help="Directory for the CA, the certificates and the model signing key.",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="Extra DNS name or IP every certificate is valid for (repeatable).",
)
@click.option("--renew", is_flag=True, help="Issue new service certificates (same CA): rotation.")
def certs(out: Path, hosts: tuple[str, ...], renew: bool) -> None:
    """Make a local CA, one certificate per service, a client certificate and a model key.

    Point each service at its files with FRAUDSTREAM_TLS_CERT, FRAUDSTREAM_TLS_KEY and
    FRAUDSTREAM_TLS_CA; `client.pem` is for people's tools (grpcurl, fraudstream review).
    The model signing key (model-signing.key) stays with training and the learner; scorers
    get model-signing.pub only. Existing files are kept unless --renew.
    """
    written = local_ca.make_certificates(out, hosts=hosts, renew=renew)
    if not (out / PRIVATE_NAME).exists():
        written += list(make_signing_key(out))
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"certificates in {out} (existing ones kept; --renew issues new ones)")


@click.command("tokens")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([*PERSON_ROLES, "service"]),
    help="viewer reads, labeler also labels, admin also rolls models back (repeatable).",
)
@click.option(
    "--file",
    "tokens_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("var/tokens"),
    show_default=True,
    help="The tokens file (FRAUDSTREAM_ANALYST_TOKENS_FILE); only hashes are written.",
)
def tokens(name: str, roles: tuple[str, ...], tokens_file: Path) -> None:
    """Add a bearer token for NAME and print it once (the file keeps only its sha256).

    `--role service` makes a service credential for plaintext setups (NAME is the service).
    """
    if not name.replace("-", "").replace("_", "").isalnum():
        raise click.BadParameter("use letters, digits, '-' and '_'", param_hint="NAME")
    granted = [f"service:{name}" if role == "service" else role for role in roles]
    token = secrets.token_urlsafe(32)
    line = f"{name} {','.join(granted)} {token_digest(token)}\n"
    if tokens_file.exists():
        TokenTable.from_file(tokens_file)  # refuse to append to a file that does not parse
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    with tokens_file.open("a") as sink:
        sink.write(line)
    tokens_file.chmod(0o600)
    click.echo(token)
    click.echo(f"added {name} ({', '.join(granted)}) to {tokens_file}", err=True)
