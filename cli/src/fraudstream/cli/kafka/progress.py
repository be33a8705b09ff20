"""What `fraudstream kafka start` shows while it starts a broker: steps, topics, client settings."""

from __future__ import annotations

import logging
import time

from rich.console import Console

from fraudstream.cli.kafka.admin import topic_partitions
from fraudstream.cli.kafka.broker import LocalKafka
from fraudstream.cli.kafka.listeners import BrokerTls
from fraudstream.common import certs

logger = logging.getLogger(__name__)

SECURITY_ENV = "FRAUDSTREAM_KAFKA_SECURITY_"

console = Console()


def start_broker(broker: LocalKafka, timeout: float) -> None:
    """Fetch the jars if needed, format, launch and wait, saying what each step took."""
    broker.check_ports()
    jars = broker.jars
    if not jars.present():
        console.print(
            f"Kafka {jars.version} jars are not in {jars.lib_dir}; fetching them with Maven "
            "(first run only; about 40 s with an empty ~/.m2)",
            highlight=False,
        )
        with console.status(f"mvn dependency:copy-dependencies (Kafka {jars.version})"):
            seconds = jars.fetch()
        count = len(list(jars.lib_dir.glob("*.jar")))
        console.print(f"[green]✓[/] fetched {count} jars in {seconds:.1f} s")
    with console.status("preparing storage"):
        began = time.monotonic()
        if broker.format_storage():
            console.print(
                f"[green]✓[/] formatted KRaft storage in {broker.log_dirs} "
                f"({time.monotonic() - began:.1f} s)",
                highlight=False,
            )
    with console.status(f"starting Kafka {jars.version} on {broker.config.bootstrap}"):
        pid = broker.launch()
        seconds = broker.wait_ready(timeout)
    console.print(
        f"[green]✓[/] Kafka {jars.version} broker pid {pid} answers on "
        f"[bold]{broker.bootstrap}[/] (ready in {seconds:.1f} s)"
    )


def print_tls_exports(tls: BrokerTls) -> None:
    """The client settings of a TLS broker, with the tools' certificate (each service presents
    its own instead: ingest.pem for ingest, and so on)."""
    client = certs.paths(tls.ca.parent, certs.CLIENT)
    settings = (("PROTOCOL", "SSL"), ("SSL_CA", tls.ca), ("SSL_CERT", client.cert))
    for name, value in (*settings, ("SSL_KEY", client.key)):
        console.print(f"  export {SECURITY_ENV}{name}={value}", highlight=False)


def print_topics(broker: LocalKafka, created: list[str]) -> None:
    """Each pipeline topic, whether it was created now, and its partition count."""
    status = broker.status()
    wanted = topic_partitions(broker.config.partitions)
    for topic in wanted:
        count = (status.topics or {}).get(topic, "?")
        verb = "created" if topic in created else "exists "
        plural = "" if count == 1 else "s"
        console.print(
            f"[green]✓[/] topic {verb} {topic} ({count} partition{plural})", highlight=False
        )
