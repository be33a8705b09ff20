"""A local single-node Apache Kafka broker (KRaft, broker and controller in one JVM) on loopback."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from confluent_kafka import KafkaException

from fraudstream.cli.kafka.admin import ensure_topics, list_topics, topic_partitions
from fraudstream.cli.kafka.config import (
    BrokerConfig,
    jvm_options,
    log4j2_properties,
    random_cluster_id,
    read_properties,
    server_properties,
)
from fraudstream.cli.kafka.jars import KafkaJars, find_java
from fraudstream.cli.kafka.listeners import Access, client_bootstrap, tooling_access, write_keystore
from fraudstream.cli.kafka.process import BrokerStatus, log_tails, read_pid, runs_broker, wait_exit
from fraudstream.cli.ports import accepts_connections, port_is_free
from fraudstream.common.kafka import KafkaSecurity

logger = logging.getLogger(__name__)

_LOG_TAIL_LINES = 40


class BrokerError(RuntimeError):
    """The broker could not be started, reached or stopped; the message carries the cause."""


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
    def gc_log_file(self) -> Path:
        """The JVM's collections and safepoint pauses: where a broker-wide stall is told from a
        stalled disk (no long pause here) or a long collection."""
        return self.data_dir / "logs" / "gc.log"

    @property
    def log4j2_file(self) -> Path:
        """The broker's logging configuration, rewritten on every start."""
        return self.data_dir / "log4j2.properties"

    @property
    def log_dirs(self) -> Path:
        """Partition data and KRaft metadata."""
        return self.data_dir / "data"

    @property
    def keystore_file(self) -> Path:
        """The broker's TLS key and certificate in one PEM file (owner-only), when TLS is on."""
        return self.data_dir / "tls" / "keystore.pem"

    @property
    def bootstrap(self) -> str:
        """The clients' bootstrap address of the running broker, else of the configuration."""
        if self.pid() is not None:
            found = client_bootstrap(read_properties(self.properties_file))
            if found is not None:
                return found
        return self.config.bootstrap

    def tooling(self) -> Access:
        """How this broker's own commands reach it (see `listeners.tooling_access`), read from
        the written configuration so that `status` needs no TLS options."""
        found = tooling_access(read_properties(self.properties_file))
        return found or Access(self.config.bootstrap, KafkaSecurity.plaintext())

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
        """Fail unless every port the broker binds is free."""
        for host, port in self.config.ports():
            if not port_is_free(port, host):
                raise BrokerError(
                    f"port {port} on {host} is in use (another broker? "
                    "`fraudstream kafka status`, or pick other ports)"
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
            *jvm_options(self.config.heap, self.log4j2_file, self.gc_log_file),
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
        access = self.tooling()
        while True:
            if self.pid() is None:
                self.pid_file.unlink(missing_ok=True)
                raise BrokerError(f"the Kafka broker exited during start-up\n{self.log_tail()}")
            if accepts_connections(access.host_port[1], access.host_port[0]):
                try:
                    list_topics(access.bootstrap, timeout=2.0, security=access.security)
                    return time.monotonic() - began
                except KafkaException:
                    pass
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise BrokerError(
                    f"the Kafka broker did not answer on {access.bootstrap} within "
                    f"{timeout:.0f} s, so it was stopped\n{tail}"
                )
            time.sleep(0.25)

    def ensure_topics(self, timeout: float = 30.0) -> list[str]:
        """Create the pipeline's topics that are missing; return those created."""
        access = self.tooling()
        wanted = topic_partitions(self.config.partitions)
        return ensure_topics(access.bootstrap, wanted, timeout=timeout, security=access.security)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the broker, SIGKILL it after `timeout` s; True if one was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not wait_exit(pid, self._is_our_broker, timeout):
            logger.warning("broker pid %d ignored SIGTERM for %.0f s; killing it", pid, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not wait_exit(pid, self._is_our_broker, 10.0):
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
            access = self.tooling()
            topics = list_topics(access.bootstrap, timeout=timeout, security=access.security)
        except KafkaException as exc:
            return BrokerStatus(
                True, pid, bootstrap, self.data_dir, self.log_file, error=exc.args[0].str()
            )
        return BrokerStatus(True, pid, bootstrap, self.data_dir, self.log_file, topics=topics)

    # -- process bookkeeping -----------------------------------------------

    def pid(self) -> int | None:
        """The pid of this data directory's running broker, or None (stale pid files ignored)."""
        pid = read_pid(self.pid_file)
        return pid if pid is not None and self._is_our_broker(pid) else None

    def _is_our_broker(self, pid: int) -> bool:
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None
        return runs_broker(pid, self.properties_file)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the broker's log and console output, for error messages."""
        tails = log_tails((self.console_file, self.log_file), self._log_offsets, lines)
        return tails or f"(the broker wrote nothing to {self.log_file.parent})"

    # -- files ---------------------------------------------------------------

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dirs.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        if self.config.tls is not None:
            write_keystore(self.config.tls, self.keystore_file)
        self.properties_file.write_text(
            server_properties(self.config, self.log_dirs, self.keystore_file), encoding="utf-8"
        )
        self.log4j2_file.write_text(log4j2_properties(self.log_file), encoding="utf-8")
