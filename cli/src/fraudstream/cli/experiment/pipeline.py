"""The pipeline chaos and soak run on: Kafka and the four services, each killable, restartable."""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from fraudstream.cli.demo.credentials import DemoCredentials
from fraudstream.cli.kafka.admin import ensure_topics, topic_partitions
from fraudstream.cli.ports import LOOPBACK, free_ports
from fraudstream.cli.stack import ServiceHandle, Stack, StackError
from fraudstream.common.transport import Transport

logger = logging.getLogger(__name__)

# Started in this order (each one's peers are already listening); stopped in reverse.
SERVICES = ("feedback", "learner", "scorer", "ingest")
BROKER = "broker"
PROCESSES = (*SERVICES, BROKER)
_SERVING_TIMEOUT = 120.0


@dataclass(frozen=True)
class PipelineConfig:
    """Where the run keeps its state, what it serves, and an optional broker to reuse."""

    run_dir: Path
    models: Path
    token: str
    bootstrap: str | None = None  # a running broker: the run starts none (and cannot kill it)
    group_id: str | None = None  # the bridges' consumer group (a shared broker needs a fresh one)


class Pipeline:
    """Kafka and the four services on fixed ports chosen once, so a restart takes the same ones."""

    def __init__(self, config: PipelineConfig, stack: Stack) -> None:
        self.config = config
        self.stack = stack
        self.bootstrap = config.bootstrap or ""
        ports = iter(free_ports(2 * len(SERVICES)))  # distinct: kept across restarts
        self.ports = {name: (next(ports), next(ports)) for name in SERVICES}
        self.services: dict[str, ServiceHandle] = {}
        # A token per service and for the run's analysts (config.token), as the demo makes.
        self.credentials = DemoCredentials.create(
            config.run_dir / "auth", tls=False, analyst_token=config.token
        )

    @property
    def transport(self) -> Transport:
        """How the run's own probes call the services (a viewer's token)."""
        return self.credentials.transport()

    @property
    def owns_broker(self) -> bool:
        """True when this run started the broker (only then can it be killed)."""
        return self.config.bootstrap is None

    def address(self, name: str) -> str:
        """host:port of a service's gRPC server."""
        return f"{LOOPBACK}:{self.ports[name][0]}"

    def start(self) -> dict[str, float]:
        """Start the broker (unless reused) and the services; seconds each took to serve."""
        took: dict[str, float] = {}
        if self.owns_broker:
            began = time.monotonic()
            self.bootstrap = self.stack.start_kafka()
            took[BROKER] = time.monotonic() - began
        else:
            ensure_topics(self.bootstrap, topic_partitions())
        for name in SERVICES:
            self.services[name] = self._launch(name)
        for name in SERVICES:
            took[name] = self.services[name].wait_serving(_SERVING_TIMEOUT)
        return took

    def pids(self) -> dict[str, int]:
        """Process id of every running process of the pipeline, by name (broker: the JVM)."""
        pids = {name: s.process.pid for name, s in self.services.items() if s.running()}
        if self.owns_broker and self.stack.kafka is not None:
            broker = self.stack.kafka.pid()
            if broker is not None:
                pids[BROKER] = broker
        return pids

    def kill(self, name: str) -> int:
        """`kill -9` the process and wait until it is gone; returns the pid killed."""
        if name == BROKER:
            kafka = self.stack.kafka
            pid = kafka.pid() if kafka is not None and self.owns_broker else None
            if kafka is None or pid is None:
                raise StackError("no broker of this run to kill (a reused broker cannot be)")
            os.kill(pid, signal.SIGKILL)
            while kafka.pid() is not None:
                time.sleep(0.02)
            return pid
        service = self.services[name]
        service.process.kill()
        service.process.wait(timeout=10)
        return service.process.pid

    def relaunch(self, name: str) -> None:
        """Start the killed process again, same ports, same state directory; does not wait."""
        if name == BROKER:
            assert self.stack.kafka is not None
            self.stack.kafka.launch()
            return
        old = self.services[name]
        index = self.stack.services.index(old)
        new = self._launch(name)
        # Keep the stack's stop order: the new process takes the old one's place.
        self.stack.services.remove(new)
        self.stack.services[index] = new
        self.services[name] = new

    def wait_serving(self, name: str) -> float:
        """Block until a relaunched process serves (broker: answers metadata); seconds waited."""
        if name == BROKER:
            assert self.stack.kafka is not None
            return self.stack.kafka.wait_ready(_SERVING_TIMEOUT)
        return self.services[name].wait_serving(_SERVING_TIMEOUT)

    def check_alive(self) -> None:
        """Raise with the log tail of a service that exited on its own."""
        for service in self.services.values():
            if not service.running():
                raise StackError(f"the {service.name} stopped\n{service.log_tail()}")

    def env(self, name: str) -> dict[str, str]:
        """The environment service `name` runs with (its own credentials among it)."""
        env = {
            "FRAUDSTREAM_KAFKA_BOOTSTRAP": self.bootstrap,
            "FRAUDSTREAM_DATA_DIR": str((self.config.run_dir / "var").resolve()),
            "FRAUDSTREAM_MODELS": str(self.config.models.resolve()),
            "FRAUDSTREAM_ANALYST_TOKENS": f"experiment:{self.config.token}",
            "FRAUDSTREAM_GRACE_SECONDS": "3",
            **self.credentials.env(name),
        }
        if self.config.group_id:
            env["FRAUDSTREAM_GROUP_ID"] = self.config.group_id
        return env

    def _launch(self, name: str) -> ServiceHandle:
        peers = {
            "feedback": (),
            "learner": ("--feedback-addr", self.address("feedback")),
            "scorer": ("--learner-addr", self.address("learner")),
            "ingest": (
                "--scorer-addr",
                self.address("scorer"),
                "--feedback-addr",
                self.address("feedback"),
            ),
        }[name]
        port, metrics_port = self.ports[name]
        return self.stack.start_service(
            name,
            *peers,
            port=port,
            metrics_port=metrics_port,
            env=self.env(name),
            transport=self.transport,
        )
