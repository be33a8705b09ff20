"""The local broker's listeners: plaintext on loopback, or mutual TLS with `fraudstream certs`.

With TLS the client listener requires a certificate signed by the CA (`ssl.client.auth=required`),
the KRaft controller listener is TLS too, and a plaintext listener exists only when asked for,
on loopback, for tools. Kafka reads PEM directly (`ssl.keystore.type=PEM`), so the broker uses
`kafka.pem`, `kafka.key` and `ca.pem` as `fraudstream certs` wrote them; only the key and its
certificate are joined into one file, the form Kafka's PEM keystore takes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from fraudstream.cli.ports import LOOPBACK
from fraudstream.common import certs
from fraudstream.common.kafka import KafkaSecurity

logger = logging.getLogger(__name__)

# A principal is the certificate's common name (`User:ingest`), the name ACLs would use.
PRINCIPAL_MAPPING = "RULE:^CN=([^,]+).*$/$1/,DEFAULT"
PLAINTEXT = "PLAINTEXT"
SSL = "SSL"


class TlsFilesError(ValueError):
    """The broker's certificate, key or CA is missing; the message names the files."""


@dataclass(frozen=True)
class BrokerTls:
    """The broker's mutual-TLS listener: its certificate and key, the CA its clients need, and
    the host it binds and advertises (a name or address its certificate is valid for)."""

    cert: Path
    key: Path
    ca: Path
    host: str = LOOPBACK

    @classmethod
    def from_directory(cls, directory: Path, host: str = LOOPBACK) -> BrokerTls:
        """`kafka.pem`, `kafka.key` and `ca.pem` of a `fraudstream certs` directory."""
        files = certs.paths(directory.resolve(), certs.BROKER)
        found = cls(files.cert, files.key, directory.resolve() / "ca.pem", host)
        missing = [str(p) for p in (found.cert, found.key, found.ca) if not p.is_file()]
        if missing:
            raise TlsFilesError(
                f"missing {', '.join(missing)}: run `fraudstream certs --out {directory}` "
                "(add --host NAME for a name other than localhost)"
            )
        return found


def write_keystore(tls: BrokerTls, path: Path) -> None:
    """The broker's key followed by its certificate, readable by its owner only."""
    certs.write_pem_keystore(certs.CertPaths(tls.cert, tls.key), path)


def listener_properties(
    port: int,
    controller_port: int,
    tls: BrokerTls | None,
    plaintext_port: int | None,
    keystore: Path,
) -> str:
    """The listener lines of server.properties."""
    if tls is None:
        return f"""\
listeners=PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller_port}
advertised.listeners=PLAINTEXT://{LOOPBACK}:{port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
"""
    listeners = [f"SSL://{tls.host}:{port}"]
    if plaintext_port is not None:
        listeners.append(f"PLAINTEXT://{LOOPBACK}:{plaintext_port}")
    return f"""\
listeners={",".join(listeners)},CONTROLLER://{LOOPBACK}:{controller_port}
advertised.listeners={",".join(listeners)}
inter.broker.listener.name=SSL
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:SSL,SSL:SSL,PLAINTEXT:PLAINTEXT
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.truststore.type=PEM
ssl.truststore.location={tls.ca}
ssl.client.auth=required
ssl.endpoint.identification.algorithm=https
ssl.principal.mapping.rules={PRINCIPAL_MAPPING}
"""


@dataclass(frozen=True)
class Access:
    """How a client reaches the broker: a bootstrap address and its security settings."""

    bootstrap: str
    security: KafkaSecurity

    @property
    def host_port(self) -> tuple[str, int]:
        """The bootstrap's host and port."""
        host, _, port = self.bootstrap.rpartition(":")
        return host.strip("[]"), int(port)


def advertised(properties: dict[str, str]) -> dict[str, str]:
    """Listener name -> advertised `host:port` of a written server.properties."""
    found = {}
    for entry in properties.get("advertised.listeners", "").split(","):
        name, sep, address = entry.strip().partition("://")
        if sep:
            found[name] = address
    return found


def client_bootstrap(properties: dict[str, str]) -> str | None:
    """The address the pipeline's clients use: the TLS listener when there is one."""
    found = advertised(properties)
    return found.get(SSL) or found.get(PLAINTEXT)


def tooling_access(properties: dict[str, str]) -> Access | None:
    """How the broker's own commands (readiness wait, topics, status) reach it: the loopback
    plaintext listener when it has one, else TLS with the broker's own certificate (which
    is also valid as a client certificate)."""
    found = advertised(properties)
    if PLAINTEXT in found:
        return Access(found[PLAINTEXT], KafkaSecurity.plaintext())
    if SSL in found:
        keystore = properties.get("ssl.keystore.location", "")
        security = KafkaSecurity.mutual_tls(
            properties.get("ssl.truststore.location", ""), keystore, keystore
        )
        return Access(found[SSL], security)
    return None
