"""Scorer addresses behind one DNS name (`dns:///host:port`): one per address it resolves to.

A bidi stream goes to one server, so gRPC's own `dns:///` resolution with its default
pick_first policy would send every batch of a bridge to one scorer. The pool resolves the name
itself (a Kubernetes headless Service names every ready scorer pod) and opens one stream per
address; it resolves again now and then, as pods come and go.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from functools import partial

import grpc

logger = logging.getLogger(__name__)

DNS_SCHEME = "dns:"
ChannelFactory = Callable[..., grpc.Channel]  # (address, options=...) like Transport.channel


def _host_port(address: str) -> tuple[str, str]:
    target = address[len(DNS_SCHEME) :].lstrip("/")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"scorer address {address!r}: expected dns:///host:port")
    return host, port


def resolve(addresses: Sequence[str]) -> dict[str, str | None]:
    """Every scorer address: plain ones as given, each `dns:///host:port` as the addresses
    it resolves to now (with `host`, the name TLS must verify). A name that resolves to
    nothing stays as given, so gRPC resolves it itself (one scorer) until it does."""
    found: dict[str, str | None] = {}
    for address in addresses:
        if not address.startswith(DNS_SCHEME):
            found[address] = None
            continue
        host, port = _host_port(address)
        try:
            infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        except OSError as exc:
            logger.warning("cannot resolve scorer address %s (%s)", address, exc)
            infos = []
        resolved = sorted(
            {_join(family, str(sockaddr[0]), port) for family, *_r, sockaddr in infos}
        )
        for each in resolved or [address]:
            found[each] = host if resolved else None
    return found


def _join(family: int, ip: str, port: str) -> str:
    return f"[{ip}]:{port}" if family == socket.AF_INET6 else f"{ip}:{port}"


def channel_factory_for(factory: ChannelFactory, host: str | None) -> Callable[[str], grpc.Channel]:
    """Channels to a resolved address that still verify the certificate of `host` (TLS)."""
    if host is None:
        return factory
    return partial(factory, options=[("grpc.ssl_target_name_override", host)])
