"""`fraudstream kafka start|stop|status`: the local single-node Kafka broker."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from confluent_kafka import KafkaException
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fraudstream.cli.kafka.admin import DEFAULT_PARTITIONS, TopicError
from fraudstream.cli.kafka.broker import BrokerError, LocalKafka
from fraudstream.cli.kafka.config import (
    DEFAULT_CONTROLLER_PORT,
    DEFAULT_HEAP,
    DEFAULT_PORT,
    BrokerConfig,
    default_data_dir,
)
from fraudstream.cli.kafka.jars import KafkaJars, KafkaSetupError, fetch_command
from fraudstream.cli.kafka.listeners import BrokerTls, TlsFilesError
from fraudstream.cli.kafka.progress import print_tls_exports, print_topics, start_broker
from fraudstream.cli.ports import LOOPBACK

logger = logging.getLogger(__name__)

BOOTSTRAP_ENV = "FRAUDSTREAM_KAFKA_BOOTSTRAP"
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}

console = Console()
err_console = Console(stderr=True)


def _default_port() -> int:
    """The port of $FRAUDSTREAM_KAFKA_BOOTSTRAP when it names this machine, else 9092.

    So `FRAUDSTREAM_KAFKA_BOOTSTRAP=localhost:19092 fraudstream kafka start`
    starts the broker the other commands will look for.
    """
    bootstrap = os.environ.get(BOOTSTRAP_ENV, "").split(",")[0].strip()
    host, _, port = bootstrap.rpartition(":")
    if host in _LOOPBACK_NAMES and port.isdigit():
        return int(port)
    return DEFAULT_PORT


_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_data_dir,
    show_default="$FRAUDSTREAM_DATA_DIR/kafka, i.e. var/kafka",
    help="Directory of the broker's config, pid file, logs and partitions.",
)


@contextmanager
def _failures_exit() -> Iterator[None]:
    try:
        yield
    except (BrokerError, KafkaSetupError, TopicError) as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(1)
    except KafkaException as exc:
        err_console.print(
            f"[bold red]error:[/] Kafka: {escape(exc.args[0].str())}",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


@click.group()
def kafka() -> None:
    """Run the local single-node Apache Kafka broker (KRaft) on loopback.

    The broker comes from Maven Central jars (deploy/kafka/pom.xml) and runs
    with this machine's Java 17. `start` creates the pipeline's topics.
    """


@kafka.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=_default_port,
    show_default=f"port of ${BOOTSTRAP_ENV} on localhost, else {DEFAULT_PORT}",
    help="Client port: plaintext on 127.0.0.1, or the mutual-TLS listener with --tls-dir.",
)
@click.option(
    "--controller-port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_CONTROLLER_PORT,
    show_default=True,
    help="KRaft controller port on 127.0.0.1.",
)
@_data_dir_option
@click.option(
    "--partitions",
    type=click.IntRange(1, 256),
    default=DEFAULT_PARTITIONS,
    show_default=True,
    help="Partitions of `transactions` and `transactions.scored` (the other topics have 1).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=90.0,
    show_default=True,
    help="Seconds to wait for the broker to answer.",
)
@click.option(
    "--heap", default=DEFAULT_HEAP, show_default=True, help="JVM heap of the broker (-Xmx)."
)
@click.option(
    "--tls-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A `fraudstream certs` directory: serve mutual TLS on --port with kafka.pem/kafka.key; "
    "clients need a certificate from its ca.pem.",
)
@click.option(
    "--tls-host",
    default=LOOPBACK,
    show_default=True,
    help="Host the TLS listener binds and advertises (a name its certificate holds).",
)
@click.option(
    "--plaintext-port",
    type=click.IntRange(1, 65535),
    help="With --tls-dir: also a plaintext listener on 127.0.0.1 (tools only; none by default).",
)
def start(
    port: int,
    controller_port: int,
    data_dir: Path,
    partitions: int,
    timeout: float,
    heap: str,
    tls_dir: Path | None,
    tls_host: str,
    plaintext_port: int | None,
) -> None:
    """Start the broker, wait until it answers, create the topics.

    The broker runs in the background until `fraudstream kafka stop`.
    The first start fetches the Kafka jars with Maven. Starting a running
    broker only makes sure its topics exist. With --tls-dir every client must
    present a certificate signed by that directory's CA (docs/security.md).
    """
    if plaintext_port is not None and tls_dir is None:
        raise click.UsageError("--plaintext-port is for a TLS broker (--tls-dir)")
    try:
        tls = BrokerTls.from_directory(tls_dir, tls_host) if tls_dir is not None else None
    except TlsFilesError as exc:
        raise click.UsageError(str(exc)) from exc
    config = BrokerConfig(
        data_dir=data_dir,
        port=port,
        controller_port=controller_port,
        partitions=partitions,
        heap=heap,
        tls=tls,
        plaintext_port=plaintext_port,
    )
    broker = LocalKafka(config)
    with _failures_exit():
        pid = broker.pid()
        if pid is not None:
            console.print(f"Kafka broker already running: pid {pid} on [bold]{broker.bootstrap}[/]")
            if broker.bootstrap != config.bootstrap:
                console.print(
                    f"[yellow]note:[/] not on {config.bootstrap}; stop it first to move it"
                )
        else:
            start_broker(broker, timeout)
        with console.status("creating topics"):
            created = broker.ensure_topics(timeout=timeout)
        print_topics(broker, created)
    console.print(f"\n  export {BOOTSTRAP_ENV}={broker.bootstrap}", highlight=False)
    if tls is not None:
        print_tls_exports(tls)
    console.print(f"  logs: {broker.log_file}    stop: fraudstream kafka stop", highlight=False)


@kafka.command()
@_data_dir_option
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a clean shutdown before SIGKILL.",
)
def stop(data_dir: Path, timeout: float) -> None:
    """Stop the broker (SIGTERM; SIGKILL after --timeout)."""
    broker = LocalKafka(BrokerConfig(data_dir=data_dir))
    with _failures_exit():
        pid = broker.pid()
        if pid is None:
            console.print(f"no Kafka broker running from {broker.data_dir}", highlight=False)
            return
        began = time.monotonic()
        with console.status(f"stopping Kafka broker pid {pid}"):
            broker.stop(timeout=timeout)
    console.print(f"[green]✓[/] stopped Kafka broker pid {pid} in {time.monotonic() - began:.1f} s")


@kafka.command()
@_data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option(
    "--timeout",
    type=click.FloatRange(0.5),
    default=5.0,
    show_default=True,
    help="Seconds to wait for the broker's topic list.",
)
def status(data_dir: Path, as_json: bool, timeout: float) -> None:
    """Show whether the broker runs: pid, bootstrap, topics.

    Exits 0 when it runs and answers, 1 when it does not run, 2 when its
    process runs but does not answer.
    """
    broker = LocalKafka(BrokerConfig(data_dir=data_dir))
    report = broker.status(timeout=timeout)
    code = 0 if report.running and report.error is None else 2 if report.running else 1
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        sys.exit(code)
    if not report.running:
        console.print(f"[red]●[/] Kafka broker not running (data dir {report.data_dir})")
        sys.exit(code)
    console.print(
        f"[green]●[/] Kafka broker running: pid {report.pid} on [bold]{report.bootstrap}[/]"
    )
    console.print(f"  data dir {report.data_dir}\n  log      {report.log_file}", highlight=False)
    if report.error is not None:
        console.print(f"[red]but it does not answer:[/] {escape(report.error)}")
        sys.exit(code)
    table = Table("topic", "partitions", box=None, padding=(0, 2))
    for topic, partitions in (report.topics or {}).items():
        table.add_row(topic, str(partitions))
    console.print(table)


@kafka.command("fetch")
def fetch() -> None:
    """Fetch the broker's jars with Maven (once; `start` does it too)."""
    with _failures_exit():
        jars = KafkaJars.locate()
        if jars.present():
            console.print(f"Kafka {jars.version} jars already in {jars.lib_dir}", highlight=False)
            return
        if jars.pom is not None:
            console.print(" ".join(fetch_command(jars.pom, jars.lib_dir)), highlight=False)
        with console.status(f"fetching Kafka {jars.version} jars"):
            seconds = jars.fetch()
    console.print(f"[green]✓[/] Kafka {jars.version} jars in {jars.lib_dir} ({seconds:.1f} s)")
