"""Credentials of a container deployment: one directory per service, and the tokens file.

The one-shot `certs` service of deploy/compose.yaml runs this in a service image (which holds
no `fraudstream` command): the same local CA as `fraudstream certs` issues the certificates into
`--pki` (the CA key stays there), then each service's certificate, key and the CA certificate
are copied into `--out/<service>/` (`tls.pem`, `tls.key`, `ca.pem`), so that each service can
mount only its own. The Kafka broker (`--service kafka`) also gets `keystore.pem`, its key and
certificate in the one file a Java PEM keystore reads; `--owner-for kafka=1000:1000` gives its
files to the broker image's user instead of `--owner`. With `--signing DIR` (the model signing
key pair `fraudstream certs` writes, made on the host, where the bundle is signed), the public
key is copied to the scorer and the learner, the private key to the learner only: scorers
refuse any bundle or snapshot it did not sign. Clear analyst tokens
(FRAUDSTREAM_ANALYST_TOKENS, `name:token`) become labelers in the tokens file `--tokens`, stored
as hashes.

    python -m fraudstream.common.provision --pki /pki --out /out --tokens /auth/tokens \\
        --service scorer --service feedback ... [--renew] [--owner 10001:10001]
        [--owner-for kafka=1000:1000] [--signing /signing]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

from fraudstream.common import certs, names
from fraudstream.common.auth import LABELER, token_digest
from fraudstream.common.files import atomic_write

logger = logging.getLogger(__name__)


def _owned(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is not None:
        os.chown(path, *owner)


def _uid_gid(text: str) -> tuple[int, int]:
    uid, _, gid = text.partition(":")
    return int(uid), int(gid or uid)


def provision(
    pki: Path,
    out: Path,
    services: list[str],
    *,
    renew: bool = False,
    owner: tuple[int, int] | None = None,
    owners: dict[str, tuple[int, int]] | None = None,
) -> None:
    """Issue (or keep) the certificates and copy each service's into `out/<service>/`
    (owned by `owners[service]` when given, else by `owner`)."""
    certs.make_certificates(pki, [*services, certs.CLIENT], hosts=services, renew=renew)
    for service in services:
        target = out / service
        target.mkdir(parents=True, exist_ok=True)
        files = certs.paths(pki, service)
        written = []
        for source, name, mode in (
            (files.cert, "tls.pem", 0o644),
            (files.key, "tls.key", 0o600),
            (pki / "ca.pem", "ca.pem", 0o644),
        ):
            shutil.copyfile(source, target / name)
            (target / name).chmod(mode)
            written.append(target / name)
        if service == certs.BROKER:
            certs.write_pem_keystore(files, target / "keystore.pem")
            written.append(target / "keystore.pem")
        service_owner = (owners or {}).get(service, owner)
        for path in (*written, target):
            _owned(path, service_owner)
        logger.info("credentials of %s in %s", service, target)


# Who gets which half of the model signing key: verifiers the public, signers the private one.
VERIFIERS, SIGNERS = ("scorer", "learner"), ("learner",)


class ProvisionError(Exception):
    """Something the deployment must fix first (a missing key); the message says what."""


def signing_keys(
    signing: Path, out: Path, services: list[str], owners: dict[str, tuple[int, int] | None]
) -> None:
    """Copy the signing key pair in `signing` into the directories of the services using it."""
    private, public = signing / names.MODEL_SIGNING_KEY_FILE, signing / names.MODEL_VERIFY_KEY_FILE
    if not (private.is_file() and public.is_file()):
        raise ProvisionError(
            f"no model signing key in {signing} ({private.name} and {public.name}): run "
            f"`fraudstream certs --out <dir>` on the host, train the bundle with "
            f"--signing-key <dir>/{private.name}, and mount <dir> there"
        )
    for service in services:
        halves = [(public, 0o644)] if service in VERIFIERS else []
        halves += [(private, 0o600)] if service in SIGNERS else []
        for source, mode in halves:
            target = out / service / source.name
            shutil.copyfile(source, target)
            target.chmod(mode)
            _owned(target, owners.get(service))
            logger.info("%s of %s", source.name, service)


def tokens_file(path: Path, clear_entries: list[str], owner: tuple[int, int] | None) -> int:
    """Write the labelers of `clear_entries` (`name:token`) as hashes; returns how many."""
    lines = []
    for number, entry in enumerate(clear_entries, start=1):
        name, sep, token = entry.partition(":")
        if not sep or not name or not token:
            raise ValueError(f"analyst token entry {number} is not 'name:token'")
        lines.append(f"{name} {LABELER} {token_digest(token)}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "".join(lines).encode(), mode=0o644)
    _owned(path, owner)
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, provision, exit 0 (2 on a bad token entry)."""
    parser = argparse.ArgumentParser(
        prog="python -m fraudstream.common.provision", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--pki", type=Path, required=True, help="CA and every certificate.")
    parser.add_argument("--out", type=Path, required=True, help="One directory per service.")
    parser.add_argument("--service", action="append", required=True, help="A service name.")
    parser.add_argument("--tokens", type=Path, help="Tokens file to write from clear tokens.")
    parser.add_argument("--renew", action="store_true", help="New service certificates.")
    parser.add_argument("--owner", help="uid:gid to give the written files.")
    parser.add_argument(
        "--owner-for",
        action="append",
        default=[],
        metavar="SERVICE=UID:GID",
        help="Another owner for one service's files (an image with its own user).",
    )
    parser.add_argument(
        "--signing", type=Path, help="Directory of the model signing key pair to hand out."
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    owner = _uid_gid(args.owner) if args.owner else None
    owners = {}
    for entry in args.owner_for:
        service, sep, ids = entry.partition("=")
        if not sep:
            parser.error(f"--owner-for {entry!r} is not SERVICE=UID:GID")
        owners[service] = _uid_gid(ids)
    provision(args.pki, args.out, args.service, renew=args.renew, owner=owner, owners=owners)
    if args.signing is not None:
        per_service = {service: owners.get(service, owner) for service in args.service}
        try:
            signing_keys(args.signing, args.out, args.service, per_service)
        except ProvisionError as exc:
            print(f"provision: {exc}", file=sys.stderr)
            return 2
    if args.tokens is not None:
        entries = [e.strip() for e in os.environ.get("FRAUDSTREAM_ANALYST_TOKENS", "").split(",")]
        try:
            count = tokens_file(args.tokens, [e for e in entries if e], owner)
        except ValueError as exc:
            print(f"provision: {exc}", file=sys.stderr)
            return 2
        logger.info("%d analyst token(s) in %s", count, args.tokens)
    return 0


if __name__ == "__main__":
    sys.exit(main())
