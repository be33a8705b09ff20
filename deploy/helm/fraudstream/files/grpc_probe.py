"""Kubernetes probe under mutual TLS: exit 0 only when the local gRPC server answers SERVING."""

# The kubelet's own grpc probe cannot present a client certificate, so with tls.enabled the
# chart runs this file in the service's container (its Python has grpcio and grpc_health).
import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def _read(variable: str) -> bytes:
    with open(os.environ[variable], "rb") as handle:
        return handle.read()


def main() -> int:
    """Ask 127.0.0.1:$FRAUDSTREAM_PORT for the health of the whole server ("")."""
    address = f"127.0.0.1:{os.environ['FRAUDSTREAM_PORT']}"
    credentials = grpc.ssl_channel_credentials(
        _read("FRAUDSTREAM_TLS_CA"), _read("FRAUDSTREAM_TLS_KEY"), _read("FRAUDSTREAM_TLS_CERT")
    )
    try:
        with grpc.secure_channel(address, credentials) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=3.0
            )
    except grpc.RpcError as exc:
        print(f"{address}: {exc.code().name}", file=sys.stderr)
        return 1
    print(f"{address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main())
