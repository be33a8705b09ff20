"""`fraudstream demo --flink`: the account-feature job on Flink beside the services."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fraudstream.cli.demo.build import Steps
from fraudstream.cli.demo.config import LiveConfig
from fraudstream.cli.flink import account_specs
from fraudstream.cli.flink.job import (
    DEFAULT_METRICS_PORT,
    DEFAULT_REST_PORT,
    FlinkJobConfig,
    FlinkJobError,
    LocalFlinkJob,
    default_parallelism,
)
from fraudstream.cli.flink.runtime import FlinkSetupError
from fraudstream.cli.flink.sql import KafkaTopics
from fraudstream.cli.kafka.admin import ensure_topics, list_topics
from fraudstream.cli.ports import free_port
from fraudstream.cli.stack import StackError
from fraudstream.common.names import TRANSACTIONS, TRANSACTIONS_ENRICHED

logger = logging.getLogger(__name__)


@contextmanager
def flink_job(
    run_dir: Path, bootstrap: str, steps: Steps, live: LiveConfig
) -> Iterator[LocalFlinkJob]:
    """Run the Flink job (`transactions` -> `transactions.enriched`) for the block; it stops
    after it unless `live.keep_running` (then: `fraudstream flink stop --data-dir
    <run>/var/flink`)."""
    free_ports = live.free_ports
    partitions = list_topics(bootstrap, timeout=10.0).get(TRANSACTIONS, 1)
    ensure_topics(bootstrap, {TRANSACTIONS_ENRICHED: partitions})
    config = FlinkJobConfig(
        data_dir=run_dir / "var" / "flink",
        topics=KafkaTopics(bootstrap=bootstrap),
        rest_port=free_port() if free_ports else DEFAULT_REST_PORT,
        parallelism=default_parallelism(partitions),
        metrics_port=free_port() if free_ports else DEFAULT_METRICS_PORT,
    )
    job = LocalFlinkJob(config)
    try:
        _start(job, steps)
    except (FlinkJobError, FlinkSetupError) as exc:  # the demo stops everything and says why
        job.stop(timeout=30)
        raise StackError(f"the Flink job did not start: {exc}") from exc
    try:
        yield job
    finally:
        if not live.keep_running:
            job.stop(timeout=30)


def _start(job: LocalFlinkJob, steps: Steps) -> None:
    """Install the runtime when missing, launch the job, wait until its tasks run."""
    with steps.step("install the Flink runtime (the first run only)") as timer:
        job.runtime.ensure(lambda message: logger.info("flink: %s", message))
        timer.note = str(job.runtime.venv)
    specs = account_specs()
    with steps.step(f"start the Flink job ({len(specs)} account features)") as timer:
        pid, _restored = job.launch(specs)
        seconds = job.wait_running(timeout=240)
        timer.note = (
            f"pid {pid}, ready in {seconds:.0f} s, {TRANSACTIONS} -> {TRANSACTIONS_ENRICHED}, "
            f"web UI {job.rest.url}"
        )


def stop_flink_job(run_dir: Path, timeout: float = 30.0) -> str | None:
    """Stop the Flink job a `--keep-running --flink` demo left in `run_dir`; what was stopped."""
    job = LocalFlinkJob(FlinkJobConfig(data_dir=run_dir / "var" / "flink"))
    pid = job.pid()
    if pid is None:
        return None
    job.stop(timeout=timeout)
    return f"flink job (pid {pid})"
