"""Container healthcheck: exit 0 only when the local gRPC server answers SERVING (grpc.health).

Under mutual TLS (FRAUDSTREAM_TLS_CERT, _KEY and _CA set, as for the service itself) it
connects with the service's own certificate: the server requires one from every client.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.common import names
from fraudstream.common.transport import Transport


def default_address(environ: Mapping[str, str] = os.environ) -> str:
    """127.0.0.1 and the port the service in this image listens on.

    FRAUDSTREAM_PORT when set (it moves the service too), else the fixed port of the service
    the image runs (FRAUDSTREAM_SERVICE, set by deploy/docker/Dockerfile).
    """
    port = environ.get("FRAUDSTREAM_PORT")
    if not port:
        service = environ.get("FRAUDSTREAM_SERVICE", "")
        if service not in names.GRPC_PORTS:
            raise SystemExit(f"set FRAUDSTREAM_PORT or FRAUDSTREAM_SERVICE, got {service!r}")
        port = str(names.GRPC_PORTS[service])
    return f"127.0.0.1:{port}"


def transport(environ: Mapping[str, str] = os.environ) -> Transport:
    """mTLS with the certificate files the service itself uses, else plaintext."""
    files = [environ.get(f"FRAUDSTREAM_TLS_{part}") for part in ("CERT", "KEY", "CA")]
    if not any(files):
        return Transport()
    cert, key, ca = (Path(f) if f else None for f in files)
    return Transport(cert, key, ca)


def check(
    address: str, service: str = "", timeout: float = 3.0, via: Transport | None = None
) -> int:
    """0 if `address` answers SERVING for `service` ("" is the whole server), 1 otherwise."""
    try:
        with (via or transport()).channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
    except grpc.RpcError as exc:
        print(f"{address}: {exc.code().name}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a TLS file missing or unreadable
        print(f"{address}: {exc}", file=sys.stderr)
        return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{address}: {status}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


def main(argv: list[str]) -> int:
    """grpc_health_check.py [ADDRESS [SERVICE]]; ADDRESS: see default_address()."""
    address = argv[1] if len(argv) > 1 else default_address()
    service = argv[2] if len(argv) > 2 else ""
    return check(address, service)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
