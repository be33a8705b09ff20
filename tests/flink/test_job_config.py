"""How the local job sizes itself (no Flink needed)."""

from __future__ import annotations

import os

from fraudstream.cli.flink.job import default_parallelism


def test_parallelism_is_one_task_per_partition_at_most_one_per_core() -> None:
    cores = os.cpu_count() or 1
    assert default_parallelism(1) == 1
    assert default_parallelism(cores) == cores
    assert default_parallelism(cores + 3) == cores
    assert default_parallelism(0) == 1
