"""Fixtures that run fraudstream services as real processes on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port the OS says is free right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    """One service running as its own process."""

    name: str
    port: int
    metrics_port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self, service: str = "", timeout: float = 2.0) -> int:
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
            return int(reply.status)

    def wait_until_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log()}")
            try:
                self.health()
                return
            except grpc.RpcError:
                time.sleep(0.1)
        raise AssertionError(f"{self.name} did not answer health within {timeout}s:\n{self.log()}")

    def terminate(self, timeout: float) -> int:
        """SIGTERM, then wait up to `timeout` s; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


StartService = Callable[..., ServiceProcess]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """Start services as processes; any still running at the end of the test are killed."""
    started: list[ServiceProcess] = []

    def start(
        name: str,
        *args: str,
        as_module: bool = False,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> ServiceProcess:
        port, metrics_port = free_port(), free_port()
        command = (
            [sys.executable, "-m", f"fraudstream.{name}"]
            if as_module
            else [sys.executable, "-m", "fraudstream.cli.main", "serve", name]
        )
        command += ["--port", str(port), "--metrics-port", str(metrics_port), *args]
        log_path = tmp_path / f"{name}-{len(started)}.log"
        process = subprocess.Popen(
            command,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, "FRAUDSTREAM_LOG_FORMAT": "text", **(env or {})},
        )
        service = ServiceProcess(name, port, metrics_port, process, log_path)
        started.append(service)
        if wait:
            service.wait_until_listening()
        return service

    yield start
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait(timeout=10)


@pytest.fixture(scope="session")
def grpcurl() -> str:
    """Path of the real grpcurl binary (installed by `go install`, see .ci/run)."""
    gopath_bin = Path(os.environ.get("GOPATH", Path.home() / "go")) / "bin" / "grpcurl"
    found = shutil.which("grpcurl") or (str(gopath_bin) if gopath_bin.exists() else None)
    if found is None:
        pytest.fail(
            "grpcurl is not installed (.ci/run installs it): "
            "go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4"
        )
    return found
