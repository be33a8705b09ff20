"""What the demo's live part runs on: its settings and the fixed ports it needs free."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fraudstream.cli.demo.build import SigningKey
from fraudstream.cli.ports import LOOPBACK, port_is_free
from fraudstream.cli.stack import StackError
from fraudstream.common import names

# The fixed ports of docs/architecture.md: (gRPC, metrics) per service; the console's HTTP.
DEFAULT_PORTS = {
    name: (names.GRPC_PORTS[name], names.METRICS_PORTS[name]) for name in names.GRPC_PORTS
} | {"console": (names.CONSOLE_PORT, names.CONSOLE_METRICS_PORT)}
KAFKA_PORT = names.KAFKA_PORT
# Scorers after the first take consecutive ports from here (50052-50054 and 9102-9104 are the
# other services'): scorer 2 on 50061 and metrics 9111, scorer 3 on 50062 and 9112, ...
EXTRA_SCORER_PORTS = (50060, 9110)


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
    # The key pair the bundle was signed with: scorers and the learner verify with its public
    # half, the learner signs its snapshots with the private one. None: nothing is checked.
    signing: SigningKey | None = None
    scorers: int = 1  # scorer processes; the bridge spreads batches over them
    # Where the bridge gets account features: "off" (a bundle without them), "embedded" (its
    # own state) or "flink" (the Flink job's transactions.enriched).
    account_features: str = "off"

    def ports(self, service: str) -> tuple[int | None, int | None]:
        """(gRPC, metrics) port of a service: the fixed ones, or (None, None) for OS-picked."""
        return (None, None) if self.free_ports else DEFAULT_PORTS[service]

    def scorer_ports(self, index: int) -> tuple[int | None, int | None]:
        """(gRPC, metrics) port of scorer `index` (0: the scorer's own fixed ports)."""
        if index == 0 or self.free_ports:
            return self.ports("scorer")
        return _extra_scorer_ports(index)


def _extra_scorer_ports(index: int) -> tuple[int, int]:
    return EXTRA_SCORER_PORTS[0] + index, EXTRA_SCORER_PORTS[1] + index


def check_ports_free(scorers: int = 1) -> None:
    """Fail before starting anything when one of the fixed ports is taken."""
    wanted = {"Kafka": KAFKA_PORT}
    for name, (port, metrics_port) in DEFAULT_PORTS.items():
        wanted |= {
            f"{name} {'HTTP' if name == 'console' else 'gRPC'}": port,
            f"{name} metrics": metrics_port,
        }
    for index in range(1, scorers):
        port, metrics_port = _extra_scorer_ports(index)
        wanted |= {f"scorer {index + 1} gRPC": port, f"scorer {index + 1} metrics": metrics_port}
    taken = [f"{port} ({what})" for what, port in wanted.items() if not port_is_free(port)]
    if taken:
        raise StackError(
            f"port {', '.join(taken)} in use on {LOOPBACK}: a demo still running "
            "(`fraudstream demo --stop`), a broker (`fraudstream kafka stop`) or another "
            "program; or run with --free-ports"
        )
