"""Service processes for tests: the session's credentials (tokens, certificates) and
`start_service`, which runs a service as its own process on free ports (a pytest plugin of the
root conftest)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.cli.ports import free_ports
from fraudstream.common import certs
from fraudstream.common.auth import SERVICE_NAMES, token_digest
from fraudstream.common.transport import Transport


def free_loopback_ports(count: int) -> list[int]:
    """`count` distinct ports the OS reports free on loopback (bound together, then released)."""
    return free_ports(count)


def metric_samples(port: int, name: str) -> dict[str, float]:
    """The samples on port's /metrics whose line starts with `name` (a metric name, or a name with
    its first labels), by the rest of the series text (`{labels}`, `_total`...)."""
    url = f"http://127.0.0.1:{port}/metrics"
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    found = {}
    for line in body.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            found[series[len(name) :]] = float(value)
    return found


def metric_sum(port: int, name: str) -> float:
    """The sum of `metric_samples(port, name)`: a counter over all its labels, for instance."""
    return sum(metric_samples(port, name).values())


# The token tests drive services with: an admin that may also speak for the services whose
# streams tests play (the bridge's ReportAlerts/StreamScores, the learner's StreamLabels, the
# scorer's SyncModels). Role tests use the narrower people below.
TESTER = "tester"
TESTER_ROLES = "admin,service:ingest,service:learner,service:scorer"
PEOPLE = {"viewer": "viewer", "labeler": "labeler", "admin": "admin"}


@dataclass(frozen=True)
class Credentials:
    """A tokens file (a service token per service, the tester, one person per role) and a CA
    with one certificate per service and a client certificate, all in `directory`."""

    directory: Path
    tokens: dict[str, str]

    @property
    def tokens_file(self) -> Path:
        return self.directory / "tokens"

    def env(self, service: str, tls: bool = False) -> dict[str, str]:
        """The variables that give process `service` its own credentials."""
        found = {
            "FRAUDSTREAM_ANALYST_TOKENS_FILE": str(self.tokens_file),
            "FRAUDSTREAM_SERVICE_TOKEN": self.tokens.get(service, ""),
        }
        if tls:
            files = certs.paths(self.directory, service)
            found |= {
                "FRAUDSTREAM_TLS_CERT": str(files.cert),
                "FRAUDSTREAM_TLS_KEY": str(files.key),
                "FRAUDSTREAM_TLS_CA": str(self.directory / "ca.pem"),
            }
        return found

    def transport(
        self, who: str | None = TESTER, tls: bool = False, cert: str = "client"
    ) -> Transport:
        """A client transport: `who`'s token (None: none), the `cert` certificate under TLS."""
        token = self.tokens[who] if who is not None else None
        if not tls:
            return Transport(token=token)
        files = certs.paths(self.directory, cert)
        return Transport(files.cert, files.key, self.directory / "ca.pem", token)


@pytest.fixture(scope="session")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Credentials:
    """The session's tokens file and certificates (`fraudstream certs` makes the same)."""
    directory = tmp_path_factory.mktemp("credentials")
    certs.make_certificates(directory)
    tokens = {name: f"{name}-{uuid.uuid4().hex}" for name in (*SERVICE_NAMES, TESTER, *PEOPLE)}
    lines = [f"{name} service:{name} {token_digest(tokens[name])}" for name in SERVICE_NAMES]
    lines.append(f"{TESTER} {TESTER_ROLES} {token_digest(tokens[TESTER])}")
    lines += [f"{name} {role} {token_digest(tokens[name])}" for name, role in PEOPLE.items()]
    (directory / "tokens").write_text("\n".join(lines) + "\n")
    return Credentials(directory, tokens)


# --- services as real processes -------------------------------------------------


@dataclass
class ServiceProcess:
    """One service running as its own process."""

    name: str
    port: int
    metrics_port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)
    # How tests reach it: the tester's token, and the client certificate under TLS.
    transport: Transport = field(default_factory=Transport)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def channel(self) -> grpc.Channel:
        """A channel to it with the tester's credentials."""
        return self.transport.channel(self.address)

    @property
    def bearer(self) -> str:
        """The tester's authorization header, for grpcurl's -H."""
        return f"authorization: Bearer {self.transport.token}"

    def metric(self, name: str) -> float:
        """`metric_sum` of this service's /metrics."""
        return metric_sum(self.metrics_port, name)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self, service: str = "", timeout: float = 2.0) -> int:
        with self.channel() as channel:
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

    def wait_until_serving(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.health() != health_pb2.HealthCheckResponse.SERVING:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{self.name} never became SERVING:\n{self.log()}")
            time.sleep(0.1)

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} never appeared in the {self.name} log:\n{self.log()}"
                )
            time.sleep(0.1)

    def terminate(self, timeout: float) -> int:
        """SIGTERM, then wait up to `timeout` s; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


StartService = Callable[..., ServiceProcess]


@pytest.fixture
def start_service(tmp_path: Path, credentials: Credentials) -> Iterator[StartService]:
    """Start services as processes with their own credentials (a service token, and their
    certificate with `tls=True`); any still running at the end of the test are killed."""
    started: list[ServiceProcess] = []

    def start(
        name: str,
        *args: str,
        as_module: bool = False,
        env: dict[str, str] | None = None,
        wait: bool = True,
        port: int | None = None,
        tls: bool = False,
    ) -> ServiceProcess:
        """Start service `name`; `port` pins the gRPC port (to restart a service in place)."""
        free, metrics_port = free_loopback_ports(2)
        port = port or free
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
            env={
                **os.environ,
                "FRAUDSTREAM_LOG_FORMAT": "text",
                **credentials.env(name, tls),
                **(env or {}),
            },
        )
        service = ServiceProcess(
            name, port, metrics_port, process, log_path, transport=credentials.transport(tls=tls)
        )
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
