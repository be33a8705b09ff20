"""`fraudstream flink start|stop|status|install`: the account-feature job on Apache Flink."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click
from confluent_kafka import KafkaException
from rich.console import Console
from rich.markup import escape

from fraudstream.cli.flink.job import (
    DEFAULT_METRICS_PORT,
    DEFAULT_REST_PORT,
    FlinkJobConfig,
    FlinkJobError,
    LocalFlinkJob,
    default_data_dir,
    default_parallelism,
)
from fraudstream.cli.flink.rest import RestError
from fraudstream.cli.flink.runtime import FlinkRuntime, FlinkSetupError
from fraudstream.cli.flink.sql import FeatureSpec, KafkaTopics
from fraudstream.cli.kafka.admin import TopicError, ensure_topics, list_topics
from fraudstream.cli.kafka.jars import KafkaSetupError
from fraudstream.common.names import KAFKA_BOOTSTRAP, TRANSACTIONS, TRANSACTIONS_ENRICHED

logger = logging.getLogger(__name__)

BOOTSTRAP_ENV = "FRAUDSTREAM_KAFKA_BOOTSTRAP"
# The one definition of the account features (libs/model); the job's SQL is generated from it.
SPECS_TARGET = "fraudstream.model.accounts:ACCOUNT_FEATURES"

console = Console()
err_console = Console(stderr=True)

_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_data_dir,
    show_default="$FRAUDSTREAM_DATA_DIR/flink, i.e. var/flink",
    help="Directory of the job file, pid file, logs and checkpoints.",
)
_rest_port_option = click.option(
    "--rest-port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_REST_PORT,
    show_default=True,
    help="Port of Flink's REST API and web UI on 127.0.0.1.",
)


def account_specs() -> Sequence[FeatureSpec]:
    """The account feature specs of libs/model, or a clear error while they are missing."""
    module_name, _, attr = SPECS_TARGET.partition(":")
    try:
        definition = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise FlinkSetupError(f"cannot load the account features {SPECS_TARGET}: {exc}") from exc
    return tuple(getattr(definition, "features", definition))


@contextmanager
def _failures_exit() -> Iterator[None]:
    try:
        yield
    except (FlinkJobError, FlinkSetupError, KafkaSetupError, TopicError, ValueError) as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(1)
    except KafkaException as exc:
        err_console.print(f"[bold red]error:[/] Kafka: {escape(exc.args[0].str())}", soft_wrap=True)
        sys.exit(1)


def _progress(message: str) -> None:
    console.print(f"  {escape(message)}", highlight=False)


@click.group()
def flink() -> None:
    """Per-account features on Apache Flink: `transactions` in, `transactions.enriched` out.

    A PyFlink MiniCluster (Java 17) in its own venv under .cache/flink runs
    Flink SQL generated from the account feature specs. It reads JSON values
    only (`fraudstream replay --format json`); see docs/flink.md.
    """


@flink.command()
@click.option(
    "--bootstrap",
    envvar=BOOTSTRAP_ENV,
    default=KAFKA_BOOTSTRAP,
    show_default=f"${BOOTSTRAP_ENV}, else {KAFKA_BOOTSTRAP}",
    help="Kafka bootstrap servers.",
)
@_data_dir_option
@_rest_port_option
@click.option(
    "--parallelism",
    type=click.IntRange(1, 256),
    default=None,
    help="Parallel tasks per operator [default: the partitions of `transactions`, at most "
    "one per core].",
)
@click.option(
    "--checkpoint-interval",
    type=click.FloatRange(1),
    default=10.0,
    show_default=True,
    help="Seconds between checkpoints (what a restart re-reads at most).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_METRICS_PORT,
    show_default=True,
    help="Port of Flink's Prometheus reporter (/metrics); 0 turns it off.",
)
@click.option(
    "--buffer-timeout",
    type=click.IntRange(0, 1000),
    default=100,
    show_default=True,
    help="Milliseconds a network buffer may wait at each shuffle (latency against CPU).",
)
@click.option(
    "--jvm-options",
    default="",
    help="Extra JVM options of the job, e.g. -XX:TieredStopAtLevel=1 (docs/flink.md).",
)
@click.option("--timeout", type=click.FloatRange(5), default=180.0, show_default=True)
def start(
    bootstrap: str,
    data_dir: Path,
    rest_port: int,
    parallelism: int | None,
    checkpoint_interval: float,
    metrics_port: int,
    buffer_timeout: int,
    jvm_options: str,
    timeout: float,
) -> None:
    """Start the job in the background, resuming from its newest checkpoint.

    The first start installs the Flink venv and fetches the Kafka connector.
    """
    with _failures_exit():
        specs = account_specs()
        partitions = list_topics(bootstrap, timeout=10.0).get(TRANSACTIONS)
        if partitions is None:
            raise FlinkJobError(
                f"no `{TRANSACTIONS}` topic on {bootstrap}: fraudstream kafka start"
            )
        ensure_topics(bootstrap, {TRANSACTIONS_ENRICHED: partitions})
        config = FlinkJobConfig(
            data_dir=data_dir,
            topics=KafkaTopics(bootstrap=bootstrap),
            rest_port=rest_port,
            parallelism=parallelism or default_parallelism(partitions),
            checkpoint_interval_s=checkpoint_interval,
            metrics_port=metrics_port,
            buffer_timeout_ms=buffer_timeout,
            jvm_options=jvm_options,
        )
        job = LocalFlinkJob(config)
        if (pid := job.pid()) is not None:
            console.print(f"Flink job already running: pid {pid}, {job.rest.url}")
            return
        job.runtime.ensure(_progress)
        with console.status(f"starting the Flink job ({len(specs)} account features)"):
            pid, restored = job.launch(specs)
            seconds = job.wait_running(timeout)
    origin = f"from checkpoint {restored}" if restored else "with empty state"
    console.print(
        f"[green]✓[/] Flink job runs (pid {pid}, {origin}, parallelism {config.parallelism}, "
        f"ready in {seconds:.1f} s)",
        highlight=False,
    )
    console.print(f"  {TRANSACTIONS} -> {TRANSACTIONS_ENRICHED} on {bootstrap}", highlight=False)
    console.print(f"  web UI {job.rest.url}    logs: {job.log_file}", highlight=False)
    if metrics_port:
        console.print(f"  metrics http://127.0.0.1:{metrics_port}/metrics", highlight=False)


@flink.command()
@_data_dir_option
@_rest_port_option
@click.option("--timeout", type=click.FloatRange(1), default=30.0, show_default=True)
def stop(data_dir: Path, rest_port: int, timeout: float) -> None:
    """Stop the job (SIGTERM; SIGKILL after --timeout); its checkpoints stay for the next start."""
    job = LocalFlinkJob(FlinkJobConfig(data_dir=data_dir, rest_port=rest_port))
    with _failures_exit():
        pid = job.pid()
        if pid is None:
            console.print(f"no Flink job running from {job.data_dir}", highlight=False)
            return
        job.stop(timeout=timeout)
    console.print(f"[green]✓[/] stopped the Flink job (pid {pid})")


@flink.command()
@_data_dir_option
@_rest_port_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(data_dir: Path, rest_port: int, as_json: bool) -> None:
    """Show the job's state, throughput and checkpoints (exit 1 when it does not run)."""
    job = LocalFlinkJob(FlinkJobConfig(data_dir=data_dir, rest_port=rest_port))
    report: dict[str, object] = {"running": False, "pid": job.pid(), "data_dir": str(job.data_dir)}
    try:
        summary = job.rest.running_job()
        if summary is not None:
            rates = job.rest.throughput(summary.job_id)
            checkpoints = job.rest.checkpoints(summary.job_id)
            report.update(
                running=summary.all_tasks_running,
                job_id=summary.job_id,
                state=summary.state,
                records_read=rates.records_read,
                records_written=rates.records_written,
                in_per_second=rates.in_per_second,
                out_per_second=rates.out_per_second,
                checkpoints_completed=checkpoints.completed,
                latest_checkpoint=checkpoints.latest_path,
            )
    except RestError as exc:
        report["error"] = str(exc)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    elif report.get("state") is None:
        console.print(f"[red]●[/] no Flink job running (pid {report['pid']}, {job.rest.url})")
    else:
        console.print(
            f"[green]●[/] Flink job {report['job_id']} {report['state']} (pid {report['pid']})\n"
            f"  read {report['records_read']} written {report['records_written']} records; "
            f"now {report['in_per_second']:.0f} in/s, {report['out_per_second']:.0f} out/s\n"
            f"  checkpoints {report['checkpoints_completed']}, latest {report['latest_checkpoint']}"
            f"\n  web UI {job.rest.url}    logs {job.log_file}",
            highlight=False,
        )
    sys.exit(0 if report["running"] else 1)


@flink.command()
def install() -> None:
    """Install the Flink venv and fetch the Kafka connector jar (once; `start` does it too)."""
    with _failures_exit():
        runtime = FlinkRuntime.locate()
        _progress(f"venv {runtime.venv} from {runtime.requirements}")
        _progress(f"jar  {runtime.connector_jar} from {runtime.pom}")
        runtime.ensure(_progress)
    console.print(f"[green]✓[/] Flink runtime ready (python {runtime.python})", highlight=False)
