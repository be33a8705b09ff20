"""A small process orchestrator: a Kafka broker and service processes that always stop together."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.cli.kafka.broker import LocalKafka
from fraudstream.cli.kafka.config import BrokerConfig
from fraudstream.cli.ports import LOOPBACK, free_port
from fraudstream.common.transport import FAST_RECONNECT, Transport

logger = logging.getLogger(__name__)

PIDS_FILE = "stack.json"
_LOG_TAIL_LINES = 30


class StackError(RuntimeError):
    """A process of the stack did not start or stop as asked; the message says which and why."""


@dataclass
class ServiceHandle:
    """One service process of the stack (`python -m fraudstream.<name>`)."""

    name: str
    port: int
    metrics_port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    # How the stack reaches it (health checks): mTLS with a client certificate, or plaintext.
    transport: Transport = field(default_factory=Transport)
    # A service that speaks HTTP rather than gRPC (the console) is ready when this path
    # answers 200; the others when their gRPC health check says SERVING.
    http_health: str | None = None

    @property
    def address(self) -> str:
        """host:port of its gRPC server (of its HTTP pages for the console)."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """Its HTTP address (for a service with http_health: the page a person opens)."""
        return f"http://{self.address}/"

    @property
    def metrics_url(self) -> str:
        """Its Prometheus endpoint."""
        return f"http://{LOOPBACK}:{self.metrics_port}/metrics"

    def running(self) -> bool:
        """True while the process has not exited."""
        return self.process.poll() is None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of its log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        return f"--- last {len(text)} lines of {self.log_path} ---\n" + "\n".join(text)

    def wait_serving(self, timeout: float = 60.0) -> float:
        """Block until it is ready (gRPC SERVING, or HTTP 200); return the seconds waited."""
        began = time.monotonic()
        with self.transport.channel(self.address, FAST_RECONNECT) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:
                if not self.running():
                    raise StackError(
                        f"{self.name} exited with code {self.process.returncode} during start-up"
                        f"\n{self.log_tail()}"
                    )
                if self._http_ready() if self.http_health else _grpc_serving(health):
                    return time.monotonic() - began
                if time.monotonic() - began > timeout:
                    raise StackError(
                        f"{self.name} on {self.address} was not ready within {timeout:.0f} s"
                        f"\n{self.log_tail()}"
                    )
                time.sleep(0.1)

    def _http_ready(self) -> bool:
        url = f"http://{self.address}{self.http_health}"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, grace: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after `grace` s; returns the exit code."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                logger.warning("%s ignored SIGTERM for %.0f s; killing it", self.name, grace)
                self.process.kill()
        return self.process.wait(timeout=10)


def _grpc_serving(health: health_pb2_grpc.HealthStub) -> bool:
    with contextlib.suppress(grpc.RpcError):
        reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    return False


class Stack:
    """Processes started for one run, stopped in reverse order on exit, errors and Ctrl-C.

    Service processes get their own session, so a Ctrl-C in the terminal reaches
    only this process, which then stops them in order (ingest drains before the scorer goes).
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir.resolve()
        self.services: list[ServiceHandle] = []
        self.kafka: LocalKafka | None = None
        self._detached = False
        self._ports: set[int] = set()  # handed out by this stack, never twice

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._detached:
            self.stop_all()

    def _new_port(self) -> int:
        """A free loopback port this stack has not handed out before: the OS may report the
        same port free twice before the process given it first binds it (a service once got
        one port for its gRPC and its metrics servers, and exited)."""
        while (port := free_port()) in self._ports:
            pass
        self._ports.add(port)
        return port

    @property
    def log_dir(self) -> Path:
        """Where every service writes its log (`<name>.log`)."""
        return self.workdir / "logs"

    def start_kafka(self, port: int | None = None, timeout: float = 120.0) -> str:
        """Start (or reuse) the broker whose data lives in `<workdir>/kafka`; returns bootstrap."""
        config = BrokerConfig(
            data_dir=self.workdir / "kafka",
            port=port or self._new_port(),
            controller_port=self._new_port(),
        )
        self.kafka = LocalKafka(config)
        self.kafka.start(timeout=timeout)
        return self.kafka.bootstrap

    def start_service(
        self,
        name: str,
        *args: str,
        port: int | None = None,
        metrics_port: int | None = None,
        env: dict[str, str] | None = None,
        transport: Transport | None = None,
        http_health: str | None = None,
    ) -> ServiceHandle:
        """Run `python -m fraudstream.<name> --port P --metrics-port M *args`, logging to a file."""
        port = port or self._new_port()
        metrics_port = metrics_port or self._new_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        same = sum(service.name == name for service in self.services)
        log_path = self.log_dir / (f"{name}.log" if same == 0 else f"{name}-{same}.log")
        command = [sys.executable, "-m", f"fraudstream.{name}", "--port", str(port)]
        command += ["--metrics-port", str(metrics_port), *args]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, "FRAUDSTREAM_LOG_FORMAT": "text", **(env or {})},
                start_new_session=True,
            )
        service = ServiceHandle(
            name, port, metrics_port, process, log_path, transport or Transport(), http_health
        )
        self.services.append(service)
        logger.info("started %s pid %d on %s", name, process.pid, service.address)
        return service

    def stop_all(self, grace: float = 15.0) -> None:
        """Stop every service (last started first), then the broker; a second Ctrl-C waits."""
        with _sigint_deferred():
            for service in reversed(self.services):
                try:
                    service.stop(grace)
                except Exception:
                    logger.exception(
                        "could not stop %s (pid %d)", service.name, service.process.pid
                    )
            self.services.clear()
            if self.kafka is not None:
                try:
                    self.kafka.stop()
                except Exception:
                    logger.exception("could not stop the Kafka broker")
                self.kafka = None

    def detach(self) -> Path:
        """Leave everything running past this object and write the pids file to stop it later."""
        self._detached = True
        path = self.workdir / PIDS_FILE
        record = {
            "services": [
                {"name": s.name, "pid": s.process.pid, "port": s.port, "metrics": s.metrics_port}
                for s in self.services
            ],
            "kafka": str(self.kafka.data_dir) if self.kafka is not None else None,
            "bootstrap": self.kafka.bootstrap if self.kafka is not None else None,
        }
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        return path


def stop_detached(workdir: Path, grace: float = 15.0) -> list[str]:
    """Stop what a detached stack left running in `workdir`; returns what was stopped."""
    path = workdir / PIDS_FILE
    if not path.is_file():
        return []
    record = json.loads(path.read_text(encoding="utf-8"))
    stopped = []
    for entry in reversed(record["services"]):
        pid, name = int(entry["pid"]), str(entry["name"])
        if _is_service(pid, name):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while _is_service(pid, name) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _is_service(pid, name):
                os.kill(pid, signal.SIGKILL)
            stopped.append(f"{name} (pid {pid})")
    if record.get("kafka") and LocalKafka(BrokerConfig(data_dir=Path(record["kafka"]))).stop():
        stopped.append("kafka")
    path.unlink()
    return stopped


def _is_service(pid: int, name: str) -> bool:
    """True if `pid` still runs `fraudstream.<name>` (a reused pid is someone else's)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z" and f"fraudstream.{name}".encode() in cmdline


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C while stopping, so a second one cannot leave processes behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
