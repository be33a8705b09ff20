"""Runs the fraudstream Flink SQL job in this process's MiniCluster (inside the Flink venv).

Generic on purpose: the CLI generates the statements from the account feature specs and
writes them with the Flink configuration to a JSON job file; this script only executes them,
so the Flink venv never imports fraudstream (whose dependencies it does not share).
Usage: python runner.py JOB_FILE
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path

from pyflink.common import Configuration
from pyflink.table import EnvironmentSettings, TableEnvironment

logger = logging.getLogger("fraudstream.flink.runner")


def run(job_file: Path) -> None:
    """Execute the job file's statements; the last one is the INSERT, awaited until it ends."""
    job = json.loads(job_file.read_text())
    config = Configuration()
    for key, value in job["config"].items():
        config.set_string(key, str(value))
    settings = (
        EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(config).build()
    )
    tables = TableEnvironment.create(settings)
    *setup, insert = job["statements"]
    for statement in setup:
        tables.execute_sql(statement)
    result = tables.execute_sql(insert)
    client = result.get_job_client()
    job_id = str(client.get_job_id()) if client is not None else "?"
    logger.info("job %s submitted", job_id)
    print(f"fraudstream-flink job {job_id} running", flush=True)
    result.wait()


def main() -> None:
    """Entry point: SIGTERM exits at once (the checkpoints on disk are the state to resume)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run(Path(sys.argv[1]))


if __name__ == "__main__":
    main()
