"""A local single-node Apache Kafka broker (KRaft, broker and controller in one JVM) on loopback."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaException

from fraudstream.cli.kafka.admin import (
    DEFAULT_PARTITIONS,
    ensure_topics,
    list_topics,
    topic_partitions,
)
from fraudstream.cli.kafka.config import (
    LOOPBACK,
    jvm_options,
    log4j2_properties,
    random_cluster_id,
    read_properties,
    server_properties,
)
from fraudstream.cli.kafka.jars import KafkaJars, find_java

logger = logging.getLogger(__name__)

DEFAULT_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093
DEFAULT_HEAP = "512m"
_LOG_TAIL_LINES = 40


class BrokerError(RuntimeError):
    """The broker could not be started, reached or stopped; the message carries the cause."""


def default_data_dir() -> Path:
    """`$FRAUDSTREAM_DATA_DIR/kafka`, by default `var/kafka` under the current directory."""
    return Path(os.environ.get("FRAUDSTREAM_DATA_DIR", "var")) / "kafka"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on host:port (so a broker can bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _accepts_connections(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


@dataclass(frozen=True)
class BrokerConfig:
    """Where and how the local broker runs."""

    data_dir: Path = field(default_factory=default_data_dir)
    port: int = DEFAULT_PORT
    controller_port: int = DEFAULT_CONTROLLER_PORT
    partitions: int = DEFAULT_PARTITIONS
    heap: str = DEFAULT_HEAP

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients use (`FRAUDSTREAM_KAFKA_BOOTSTRAP`)."""
        return f"{LOOPBACK}:{self.port}"


@dataclass(frozen=True)
class BrokerStatus:
    """What `fraudstream kafka status` reports."""

    running: bool
    pid: int | None
    bootstrap: str
    data_dir: Path
    log_file: Path
    topics: dict[str, int] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "running": self.running,
            "pid": self.pid,
            "bootstrap": self.bootstrap,
            "data_dir": str(self.data_dir),
            "log_file": str(self.log_file),
            "topics": self.topics,
            "error": self.error,
        }


class LocalKafka:
    """One broker process whose files (config, pid, logs, partitions) live in one data directory.

    The process is detached from the caller, so `start` and `stop` can be
    different commands; the pid file is what ties them together.
    """

    def __init__(self, config: BrokerConfig, jars: KafkaJars | None = None) -> None:
        self.config = config
        self.data_dir = config.data_dir.resolve()
        self._jars = jars
        self._process: subprocess.Popen[bytes] | None = None
        # Log sizes when this object launched the broker: error messages show
        # only what this run wrote, not an earlier run's shutdown.
        self._log_offsets: dict[Path, int] = {}

    @property
    def jars(self) -> KafkaJars:
        """The jars this broker runs from (located lazily: `status` and `stop` need none)."""
        if self._jars is None:
            self._jars = KafkaJars.locate()
        return self._jars

    @property
    def pid_file(self) -> Path:
        """Holds the broker's process id while it runs."""
        return self.data_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        """The broker's log (log4j2, rolled at 20 MB)."""
        return self.data_dir / "logs" / "server.log"

    @property
    def console_file(self) -> Path:
        """The JVM's stdout and stderr (crashes before logging starts land here)."""
        return self.data_dir / "logs" / "console.out"

    @property
    def properties_file(self) -> Path:
        """The broker's server.properties, rewritten on every start."""
        return self.data_dir / "server.properties"

    @property
    def log4j2_file(self) -> Path:
        """The broker's logging configuration, rewritten on every start."""
        return self.data_dir / "log4j2.properties"

    @property
    def log_dirs(self) -> Path:
        """Partition data and KRaft metadata."""
        return self.data_dir / "data"

    @property
    def bootstrap(self) -> str:
        """The bootstrap address of the running broker, else of the configured port."""
        advertised = read_properties(self.properties_file).get("advertised.listeners", "")
        if advertised.startswith("PLAINTEXT://") and self.pid() is not None:
            return advertised.removeprefix("PLAINTEXT://").split(",")[0]
        return self.config.bootstrap

    # -- lifecycle ---------------------------------------------------------

    def start(self, timeout: float = 90.0) -> list[str]:
        """Fetch jars if needed, format, launch, wait until ready and create the topics.

        Returns the topics created. Starting a broker that runs already only
        ensures its topics.
        """
        if self.pid() is None:
            self.check_ports()
            if not self.jars.present():
                self.jars.fetch()
            self.format_storage()
            self.launch()
            self.wait_ready(timeout)
        return self.ensure_topics(timeout=timeout)

    def format_storage(self) -> bool:
        """Write the configuration and format the KRaft log directory once; True if it formatted."""
        java = find_java()
        self._write_config()
        if (self.log_dirs / "meta.properties").is_file():
            return False
        command = [
            java,
            *jvm_options("256m", self.log4j2_file),
            "-cp",
            self.jars.classpath,
            "kafka.tools.StorageTool",
            "format",
            # One argument with '=': a random id may start with '-', which argparse would
            # otherwise take for an option ("expected one argument").
            f"--cluster-id={random_cluster_id()}",
            "--config",
            str(self.properties_file),
            "--ignore-formatted",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerError(
                f"formatting {self.log_dirs} failed (exit {result.returncode}):\n"
                + (result.stdout + result.stderr).strip()
            )
        return True

    def check_ports(self) -> None:
        """Fail unless the client and controller ports are free on loopback."""
        for port in (self.config.port, self.config.controller_port):
            if not port_is_free(port):
                raise BrokerError(
                    f"port {port} on {LOOPBACK} is in use (another broker? "
                    "`fraudstream kafka status`, or pick --port/--controller-port)"
                )

    def launch(self) -> int:
        """Start the broker JVM detached from this process and record its pid."""
        if (pid := self.pid()) is not None:
            raise BrokerError(f"a broker from {self.data_dir} already runs (pid {pid})")
        self.check_ports()
        java = find_java()
        self._write_config()
        self.console_file.parent.mkdir(parents=True, exist_ok=True)
        command = [
            java,
            *jvm_options(self.config.heap, self.log4j2_file),
            "-cp",
            self.jars.classpath,
            "kafka.Kafka",
            str(self.properties_file),
        ]
        self._log_offsets = {
            path: path.stat().st_size if path.is_file() else 0
            for path in (self.console_file, self.log_file)
        }
        with self.console_file.open("ab") as console:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # Ctrl-C in the starting shell must not reach it
            )
        self.pid_file.write_text(f"{self._process.pid}\n")
        logger.info("started Kafka broker pid %d from %s", self._process.pid, self.data_dir)
        return self._process.pid

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Block until the broker answers a metadata request; return the seconds waited."""
        began = time.monotonic()
        deadline = began + timeout
        while True:
            if self.pid() is None:
                self.pid_file.unlink(missing_ok=True)
                raise BrokerError(f"the Kafka broker exited during start-up\n{self.log_tail()}")
            if _accepts_connections(self.config.port):
                try:
                    list_topics(self.config.bootstrap, timeout=2.0)
                    return time.monotonic() - began
                except KafkaException:
                    pass
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise BrokerError(
                    f"the Kafka broker did not answer on {self.config.bootstrap} within "
                    f"{timeout:.0f} s, so it was stopped\n{tail}"
                )
            time.sleep(0.25)

    def ensure_topics(self, timeout: float = 30.0) -> list[str]:
        """Create the DESIGN.md topics that are missing; return those created."""
        return ensure_topics(
            self.bootstrap, topic_partitions(self.config.partitions), timeout=timeout
        )

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the broker, SIGKILL it after `timeout` s; True if one was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._wait_exit(pid, timeout):
            logger.warning("broker pid %d ignored SIGTERM for %.0f s; killing it", pid, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not self._wait_exit(pid, 10.0):
                raise BrokerError(f"broker pid {pid} survived SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        self._process = None
        return True

    def status(self, timeout: float = 5.0) -> BrokerStatus:
        """Whether the broker runs, and its topics when it answers."""
        pid = self.pid()
        bootstrap = self.bootstrap
        if pid is None:
            return BrokerStatus(False, None, bootstrap, self.data_dir, self.log_file)
        try:
            topics = list_topics(bootstrap, timeout=timeout)
        except KafkaException as exc:
            return BrokerStatus(
                True, pid, bootstrap, self.data_dir, self.log_file, error=exc.args[0].str()
            )
        return BrokerStatus(True, pid, bootstrap, self.data_dir, self.log_file, topics=topics)

    # -- process bookkeeping -----------------------------------------------

    def pid(self) -> int | None:
        """The pid of this data directory's running broker, or None (stale pid files ignored)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._is_our_broker(pid) else None

    def _is_our_broker(self, pid: int) -> bool:
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        except OSError:  # no procfs: trust the pid file if the process exists
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            return True
        # A reused pid belongs to some other program; a zombie has exited already.
        return (
            state != "Z"
            and b"kafka.Kafka" in cmdline
            and str(self.properties_file).encode() in cmdline
        )

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._is_our_broker(pid):
                return True
            time.sleep(0.1)
        return False

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the broker's log and console output, for error messages."""
        parts = []
        for path in (self.console_file, self.log_file):
            if not path.is_file():
                continue
            with path.open("rb") as log:
                log.seek(self._log_offsets.get(path, 0))
                tail = log.read().decode(errors="replace").splitlines()[-lines:]
            if tail:
                parts.append(f"--- last {len(tail)} lines of {path} ---\n" + "\n".join(tail))
        return "\n".join(parts) or f"(the broker wrote nothing to {self.log_file.parent})"

    # -- files ---------------------------------------------------------------

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dirs.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(
            server_properties(self.config.port, self.config.controller_port, self.log_dirs),
            encoding="utf-8",
        )
        self.log4j2_file.write_text(log4j2_properties(self.log_file), encoding="utf-8")
