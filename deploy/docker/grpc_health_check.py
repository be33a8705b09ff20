"""Container healthcheck: exit 0 only when the local gRPC server answers SERVING (grpc.health)."""

from __future__ import annotations

import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# Each image sets FRAUDSTREAM_PORT to its service's gRPC port (50051..50054).
_DEFAULT_ADDRESS = f"127.0.0.1:{os.environ.get('FRAUDSTREAM_PORT', '50051')}"


def check(address: str, service: str = "", timeout: float = 3.0) -> int:
    """0 if `address` answers SERVING for `service` ("" is the whole server), 1 otherwise."""
    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
    except grpc.RpcError as exc:
        print(f"{address}: {exc.code().name}", file=sys.stderr)
        return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{address}: {status}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


def main(argv: list[str]) -> int:
    """grpc_health_check.py [ADDRESS [SERVICE]]; ADDRESS: 127.0.0.1:$FRAUDSTREAM_PORT."""
    address = argv[1] if len(argv) > 1 else _DEFAULT_ADDRESS
    service = argv[2] if len(argv) > 2 else ""
    return check(address, service)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
