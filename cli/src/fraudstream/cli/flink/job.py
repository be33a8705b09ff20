"""The account-feature job as a local process: a PyFlink MiniCluster, its pid, logs, checkpoints."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fraudstream.cli.flink.rest import FlinkRest, RestError
from fraudstream.cli.flink.runtime import FlinkRuntime
from fraudstream.cli.flink.sql import FeatureSpec, KafkaTopics, job_statements
from fraudstream.cli.kafka.jars import find_java
from fraudstream.cli.kafka.process import log_tails, read_pid, wait_exit
from fraudstream.cli.ports import port_is_free

logger = logging.getLogger(__name__)

DEFAULT_REST_PORT = 8081
DEFAULT_METRICS_PORT = 9249
_RUNNER_MARK = b"runner.py"
PROMETHEUS_REPORTER = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"


class FlinkJobError(RuntimeError):
    """The job could not be started, reached or stopped; the message carries the cause."""


def default_data_dir() -> Path:
    """`$FRAUDSTREAM_DATA_DIR/flink`, by default `var/flink` under the current directory."""
    return Path(os.environ.get("FRAUDSTREAM_DATA_DIR", "var")) / "flink"


def default_parallelism(partitions: int) -> int:
    """One task per partition, at most one per core: each of the job's stages runs `parallelism`
    tasks, and more tasks than cores only share them (a source task reads several partitions)."""
    return max(1, min(partitions, os.cpu_count() or 1))


@dataclass(frozen=True)
class FlinkJobConfig:
    """How the local job runs: where its files go, what it reads, how parallel it is."""

    data_dir: Path
    topics: KafkaTopics | None = None
    rest_port: int = DEFAULT_REST_PORT
    parallelism: int = 1
    checkpoint_interval_s: float = 10.0
    # How long a network buffer waits to fill before it is sent, at each of the job's shuffles:
    # lower is less latency and more CPU per event (docs/flink.md has both measured).
    buffer_timeout_ms: int = 100
    # Flink's Prometheus reporter (the plugin ships in the apache-flink wheel); 0 turns it off.
    metrics_port: int = DEFAULT_METRICS_PORT
    # Extra options of the job's JVM (PyFlink's JVM_ARGS), e.g. `-XX:TieredStopAtLevel=1`:
    # on a small machine the C2 compiler's warm-up costs more CPU than a short backlog.
    jvm_options: str = ""


class LocalFlinkJob:
    """One job process whose files (job file, pid, logs, checkpoints) live in one data directory."""

    def __init__(self, config: FlinkJobConfig, runtime: FlinkRuntime | None = None) -> None:
        self.config = config
        self.data_dir = config.data_dir.resolve()
        self._runtime = runtime
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def runtime(self) -> FlinkRuntime:
        """The venv and jar the job runs with (located lazily: `status` and `stop` need none)."""
        if self._runtime is None:
            self._runtime = FlinkRuntime.locate()
        return self._runtime

    @property
    def pid_file(self) -> Path:
        """Holds the runner's process id while it runs."""
        return self.data_dir / "flink.pid"

    @property
    def job_file(self) -> Path:
        """The statements and Flink configuration of the last start."""
        return self.data_dir / "job.json"

    @property
    def log_file(self) -> Path:
        """The runner's and Flink's output."""
        return self.data_dir / "logs" / "flink.log"

    @property
    def checkpoint_dir(self) -> Path:
        """Flink's filesystem checkpoints: `<job id>/chk-<n>/_metadata`."""
        return self.data_dir / "checkpoints"

    @property
    def rest(self) -> FlinkRest:
        """The MiniCluster's REST API."""
        return FlinkRest(f"http://127.0.0.1:{self.config.rest_port}")

    def latest_checkpoint(self) -> Path | None:
        """The newest completed checkpoint (one with `_metadata`), the state a start resumes."""
        completed = self.checkpoint_dir.glob("*/chk-*/_metadata")
        newest = max(completed, key=lambda path: path.stat().st_mtime, default=None)
        return newest.parent if newest is not None else None

    def flink_config(self, restore: Path | None) -> dict[str, str]:
        """The Flink configuration of a start; `restore` is a checkpoint to resume from."""
        config = {
            "pipeline.name": "fraudstream-account-features",
            "pipeline.jars": self.runtime.connector_jar.as_uri(),
            "parallelism.default": str(self.config.parallelism),
            "rest.port": str(self.config.rest_port),
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "execution.checkpointing.interval": f"{self.config.checkpoint_interval_s:g} s",
            "execution.checkpointing.dir": self.checkpoint_dir.as_uri(),
            "execution.checkpointing.num-retained": "3",
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
            "state.backend.type": "hashmap",
            "pipeline.auto-watermark-interval": "50 ms",
            # Chained operators pass rows on without copying them (none keeps a reference).
            "pipeline.object-reuse": "true",
            "execution.buffer-timeout.interval": f"{self.config.buffer_timeout_ms} ms",
            "taskmanager.numberOfTaskSlots": str(self.config.parallelism),
        }
        if self.config.metrics_port:
            config["metrics.reporter.prom.factory.class"] = PROMETHEUS_REPORTER
            config["metrics.reporter.prom.port"] = str(self.config.metrics_port)
        if restore is not None:
            config["execution.state-recovery.path"] = restore.as_uri()
        return config

    def launch(self, specs: Sequence[FeatureSpec]) -> tuple[int, Path | None]:
        """Write the job file, start the runner detached; return its pid and the checkpoint used."""
        if (pid := self.pid()) is not None:
            raise FlinkJobError(f"a Flink job from {self.data_dir} already runs (pid {pid})")
        if self.config.topics is None:
            raise FlinkJobError("no Kafka topics configured for the job")
        if not port_is_free(self.config.rest_port):
            raise FlinkJobError(
                f"port {self.config.rest_port} is in use (another Flink? "
                "`fraudstream flink status`, or pick --rest-port)"
            )
        find_java()
        restore = self.latest_checkpoint()
        job = {
            "config": self.flink_config(restore),
            "statements": job_statements(specs, self.config.topics),
        }
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.job_file.write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
        env = {**os.environ, "FLINK_LOG_DIR": str(self.log_file.parent)}
        if self.config.jvm_options:
            env["JVM_ARGS"] = self.config.jvm_options
        reporter = self.runtime.prometheus_jar()
        if self.config.metrics_port and reporter is not None:
            # A MiniCluster loads no plugins/ folder; PyFlink's launcher puts HADOOP_CLASSPATH on
            # the JVM's classpath, where the reporter factory is found like any service.
            env["HADOOP_CLASSPATH"] = str(reporter)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [str(self.runtime.python), str(self.runtime.runner), str(self.job_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                env=env,
                start_new_session=True,  # its own group: stop ends the runner and its JVM
            )
        self.pid_file.write_text(f"{self._process.pid}\n")
        logger.info("started Flink job runner pid %d from %s", self._process.pid, self.data_dir)
        return self._process.pid, restore

    def wait_running(self, timeout: float = 180.0) -> float:
        """Block until the job and all its tasks run; return the seconds waited."""
        began = time.monotonic()
        while True:
            if self.pid() is None:
                self.pid_file.unlink(missing_ok=True)
                raise FlinkJobError(f"the Flink job exited during start-up\n{self.log_tail()}")
            with contextlib.suppress(RestError):
                job = self.rest.running_job()
                if job is not None and job.all_tasks_running:
                    return time.monotonic() - began
            if time.monotonic() - began > timeout:
                tail = self.log_tail()
                self.stop()
                raise FlinkJobError(
                    f"the Flink job did not run within {timeout:.0f} s, so it was stopped\n{tail}"
                )
            time.sleep(0.5)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the runner's process group, SIGKILL after `timeout`; True if one was running.

        The state survives in the checkpoints: the next start resumes from the newest.
        """
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        if not wait_exit(pid, self._is_our_runner, timeout):
            logger.warning(
                "Flink runner pid %d ignored SIGTERM for %.0f s; killing it", pid, timeout
            )
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            wait_exit(pid, self._is_our_runner, 10.0)
        # The JVM of the gateway is in the same group; wait until the REST port is released.
        deadline = time.monotonic() + timeout
        while not port_is_free(self.config.rest_port) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.pid_file.unlink(missing_ok=True)
        self._process = None
        return True

    def pid(self) -> int | None:
        """The pid of this data directory's running runner, or None (stale pid files ignored)."""
        pid = read_pid(self.pid_file)
        return pid if pid is not None and self._is_our_runner(pid) else None

    def _is_our_runner(self, pid: int) -> bool:
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z" and _RUNNER_MARK in cmdline and str(self.job_file).encode() in cmdline

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the runner's log, for error messages."""
        return log_tails((self.log_file,), {}, lines) or f"(nothing in {self.log_file})"
