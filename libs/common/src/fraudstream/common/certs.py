"""A local certificate authority and one certificate per service, for mutual TLS.

`fraudstream certs` writes, into one directory:
- `ca.pem` (the CA certificate every process trusts) and `ca.key` (kept to issue more);
- `<name>.pem` and `<name>.key` for each service (`scorer`, `feedback`, `learner`, `ingest`,
  `console`), whose common name is the service's identity in mTLS, and for `client`, a
  certificate for people's tools (grpcurl, `fraudstream review`), which proves only that the
  holder was given one: an analyst's identity and roles come from their bearer token;
- `kafka.pem` and `kafka.key` for the Kafka broker's mutual-TLS listener (`fraudstream kafka
  start --tls-dir`), which trusts the same `ca.pem`: each service reaches Kafka with its own
  certificate, and the broker knows it by its common name.

Keys are ECDSA P-256 (what every TLS stack, BoringSSL in gRPC included, accepts); private keys
are written readable by their owner only. Subject alternative names cover loopback and the
compose service name, so the same files serve `fraudstream demo` and docker compose.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fraudstream.common.files import atomic_write

logger = logging.getLogger(__name__)

SERVICES: tuple[str, ...] = ("scorer", "feedback", "learner", "ingest", "console")
CLIENT = "client"
# The Kafka broker's certificate: a server identity only, never a caller of a gRPC service.
BROKER = "kafka"
CA_DAYS = 5 * 365
LEAF_DAYS = 365


@dataclass(frozen=True)
class CertPaths:
    """Where one identity's certificate and key are."""

    cert: Path
    key: Path


def paths(directory: Path, name: str) -> CertPaths:
    """The certificate and key files of `name` in `directory`."""
    return CertPaths(directory / f"{name}.pem", directory / f"{name}.key")


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    ca = paths(directory, "ca")
    if not (ca.cert.exists() and ca.key.exists()):
        return None
    cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca.key} is not an EC private key")
    return cert, key


def _new_ca(
    directory: Path, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fraudstream local CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    ca = paths(directory, "ca")
    atomic_write(ca.key, _key_pem(key), mode=0o600)
    atomic_write(ca.cert, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _issue(
    name: str,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    hosts: Iterable[str],
    now: dt.datetime,
) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = [x509.DNSName(name), x509.DNSName("localhost")]
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(alt_names))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def make_certificates(
    directory: Path,
    names: Iterable[str] = (*SERVICES, BROKER, CLIENT),
    hosts: Iterable[str] = (),
    *,
    renew: bool = False,
) -> list[Path]:
    """Create the CA (unless one is there) and a certificate for each name; returns the files.

    Existing leaf certificates are kept unless `renew` (rotation: new keys, same CA, so running
    processes keep trusting each other while they are restarted one by one).
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    loaded = _load_ca(directory)
    ca_cert, ca_key = loaded if loaded is not None else _new_ca(directory, now)
    written = [paths(directory, "ca").cert]
    host_list = list(hosts)
    for name in names:
        target = paths(directory, name)
        if target.cert.exists() and target.key.exists() and not renew:
            continue
        cert_pem, key_pem = _issue(name, ca_cert, ca_key, host_list, now)
        atomic_write(target.key, key_pem, mode=0o600)
        atomic_write(target.cert, cert_pem)
        written.append(target.cert)
        logger.info("issued a certificate for %s", name)
    return written


def write_pem_keystore(files: CertPaths, target: Path) -> None:
    """The key followed by its certificate in one file, owner-only: the form a Java PEM keystore
    takes (Kafka's `ssl.keystore.type=PEM` with `ssl.keystore.location`)."""
    content = files.key.read_bytes().rstrip() + b"\n" + files.cert.read_bytes()
    atomic_write(target, content, mode=0o600)
