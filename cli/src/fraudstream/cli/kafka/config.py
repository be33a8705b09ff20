"""How a local KRaft broker runs: its settings and files (server.properties, log4j2, cluster id)."""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from fraudstream.cli.kafka.admin import DEFAULT_PARTITIONS
from fraudstream.cli.kafka.listeners import BrokerTls, listener_properties
from fraudstream.cli.ports import LOOPBACK

DEFAULT_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093
DEFAULT_HEAP = "512m"
NODE_ID = 1


def default_data_dir() -> Path:
    """`$FRAUDSTREAM_DATA_DIR/kafka`, by default `var/kafka` under the current directory."""
    return Path(os.environ.get("FRAUDSTREAM_DATA_DIR", "var")) / "kafka"


@dataclass(frozen=True)
class BrokerConfig:
    """Where and how the local broker runs."""

    data_dir: Path = field(default_factory=default_data_dir)
    port: int = DEFAULT_PORT
    controller_port: int = DEFAULT_CONTROLLER_PORT
    partitions: int = DEFAULT_PARTITIONS
    heap: str = DEFAULT_HEAP
    # Mutual TLS on `port` (None: plaintext on loopback), and then optionally a plaintext
    # listener on loopback for tools.
    tls: BrokerTls | None = None
    plaintext_port: int | None = None

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients use (`FRAUDSTREAM_KAFKA_BOOTSTRAP`)."""
        host = self.tls.host if self.tls is not None else LOOPBACK
        return f"{host}:{self.port}"

    def ports(self) -> list[tuple[str, int]]:
        """Every (host, port) the broker binds."""
        bound = [
            (self.tls.host if self.tls is not None else LOOPBACK, self.port),
            (LOOPBACK, self.controller_port),
        ]
        if self.tls is not None and self.plaintext_port is not None:
            bound.append((LOOPBACK, self.plaintext_port))
        return bound


def random_cluster_id() -> str:
    """A new cluster id in Kafka's Uuid text form (16 random bytes, URL-safe base64, no padding)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def read_properties(path: Path) -> dict[str, str]:
    """The key=value pairs of a Java properties file ({} when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


def server_properties(config: BrokerConfig, log_dirs: Path, keystore: Path) -> str:
    """server.properties of one combined broker+controller node (`keystore`: see listeners)."""
    listeners = listener_properties(
        config.port, config.controller_port, config.tls, config.plaintext_port, keystore
    )
    # A static voter set (not `--standalone`) keeps the controller port out of
    # the formatted metadata, so a data directory can be restarted on other ports.
    return f"""\
# Written by `fraudstream kafka start`; edits are overwritten on the next start.
process.roles=broker,controller
node.id={NODE_ID}
controller.quorum.voters={NODE_ID}@{LOOPBACK}:{config.controller_port}
{listeners}log.dirs={log_dirs}

# Topics are created on purpose (the pipeline's by `kafka start`), so a typo fails loudly.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# One machine with two cores and many other processes.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.segment.bytes=268435456
"""


def log4j2_properties(log_file: Path) -> str:
    """A log4j2 config that writes the broker's log to `log_file`, rolled at 20 MB, 3 kept."""
    return _LOG4J2_PROPERTIES.format(log_file=log_file)


def jvm_options(heap: str, log4j2_config: Path, gc_log: Path | None = None) -> list[str]:
    """JVM flags for a small broker on a shared machine; with `gc_log`, its collections and
    safepoint pauses logged there (rolled at 10 MB, 3 kept), as Kafka's own scripts do."""
    logging = (
        [f"-Xlog:gc*,safepoint:file={gc_log}:time,uptime,level,tags:filecount=3,filesize=10M"]
        if gc_log is not None
        else []
    )
    return [
        *logging,
        f"-Xmx{heap}",
        f"-Xms{heap}",
        # Touch the whole heap at start: its memory is resident from the first minute instead of
        # growing as G1 first uses each region (a 10-minute soak read that as +20% RSS).
        "-XX:+AlwaysPreTouch",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        # Log through the broker's own shutdown hook instead of closing the log first.
        "-Dlog4j2.shutdownHookEnabled=false",
        f"-Dlog4j2.configurationFile={log4j2_config}",
    ]


_LOG4J2_PROPERTIES = """\
# Written by `fraudstream kafka start`.
status = warn
name = fraudstream-kafka
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.filePattern = {log_file}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""
