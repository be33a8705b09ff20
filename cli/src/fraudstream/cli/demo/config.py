"""What the demo's live part runs on: its settings and the fixed ports it needs free."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fraudstream.cli.ports import LOOPBACK, port_is_free
from fraudstream.cli.stack import StackError
from fraudstream.common import names

# The fixed ports of docs/architecture.md: (gRPC, metrics) per service.
DEFAULT_PORTS = {
    name: (names.GRPC_PORTS[name], names.METRICS_PORTS[name]) for name in names.GRPC_PORTS
}
KAFKA_PORT = names.KAFKA_PORT


@dataclass(frozen=True)
class LiveConfig:
    """What the live part runs on."""

    workdir: Path
    models: Path
    replay_csv: Path
    rows: int
    rate: float
    analysts: int
    analyst_delay: float
    error_rate: float
    seed: int
    free_ports: bool
    keep_running: bool
    tls: bool = False  # mutual TLS between every process (else plaintext on loopback)
    # Where the bridge gets account features: "off" (a bundle without them), "embedded" (its
    # own state) or "flink" (the Flink job's transactions.enriched).
    account_features: str = "off"

    def ports(self, service: str) -> tuple[int | None, int | None]:
        """(gRPC, metrics) port of a service: the fixed ones, or (None, None) for OS-picked."""
        return (None, None) if self.free_ports else DEFAULT_PORTS[service]


def check_ports_free() -> None:
    """Fail before starting anything when one of the fixed ports is taken."""
    wanted = {"Kafka": KAFKA_PORT}
    for name, (port, metrics_port) in DEFAULT_PORTS.items():
        wanted |= {f"{name} gRPC": port, f"{name} metrics": metrics_port}
    taken = [f"{port} ({what})" for what, port in wanted.items() if not port_is_free(port)]
    if taken:
        raise StackError(
            f"port {', '.join(taken)} in use on {LOOPBACK}: a demo still running "
            "(`fraudstream demo --stop`), a broker (`fraudstream kafka stop`) or another "
            "program; or run with --free-ports"
        )
