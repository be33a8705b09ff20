"""The few calls of Flink's REST API that `fraudstream flink status` and the tests need."""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


class RestError(RuntimeError):
    """Flink's REST API did not answer, or answered with an error."""


@dataclass(frozen=True)
class JobSummary:
    """One job of /jobs/overview."""

    job_id: str
    name: str
    state: str
    tasks_running: int
    tasks_total: int

    @property
    def all_tasks_running(self) -> bool:
        """True when the job runs and every task of it too (so it reads and writes)."""
        return self.state == "RUNNING" and self.tasks_running == self.tasks_total > 0


@dataclass(frozen=True)
class JobThroughput:
    """Records through the job: totals and the last minute's rate, from the task metrics."""

    records_read: int
    records_written: int
    in_per_second: float
    out_per_second: float


@dataclass(frozen=True)
class CheckpointSummary:
    """The job's checkpoint counts and its newest completed checkpoint."""

    completed: int
    failed: int
    latest_path: str | None
    latest_id: int | None


class FlinkRest:
    """A client of one JobManager's REST endpoint (the MiniCluster's or a cluster's)."""

    def __init__(self, url: str, timeout: float = 3.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str) -> Any:
        """GET `path` and return its JSON body."""
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=self.timeout) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RestError(f"{self.url}{path}: {exc}") from exc

    def jobs(self) -> list[JobSummary]:
        """Every job the JobManager knows, newest first."""
        jobs = self.get("/jobs/overview").get("jobs", [])
        jobs.sort(key=lambda job: job.get("start-time", 0), reverse=True)
        return [
            JobSummary(
                job_id=job["jid"],
                name=job.get("name", ""),
                state=job.get("state", "UNKNOWN"),
                tasks_running=int(job.get("tasks", {}).get("running", 0)),
                tasks_total=int(job.get("tasks", {}).get("total", 0)),
            )
            for job in jobs
        ]

    def running_job(self) -> JobSummary | None:
        """The newest job that is not finished, failed or cancelled."""
        for job in self.jobs():
            if job.state not in {"FINISHED", "FAILED", "CANCELED"}:
                return job
        return None

    def throughput(self, job_id: str) -> JobThroughput:
        """Records out of the source tasks and into the sink tasks: totals and per second."""
        vertices = self.get(f"/jobs/{job_id}").get("vertices", [])
        sources = [v for v in vertices if str(v.get("name", "")).startswith("Source")]
        # The sink is chained behind the last aggregate: its task's input is the job's output.
        sinks = [v for v in vertices if re.search(r"Sink|Writer", str(v.get("name", "")))]
        return JobThroughput(
            records_read=int(self._source_sum(job_id, sources, "numRecordsOut")),
            records_written=int(self._sum(job_id, sinks, "numRecordsIn")),
            in_per_second=self._source_sum(job_id, sources, "numRecordsOutPerSecond"),
            out_per_second=self._sum(job_id, sinks, "numRecordsInPerSecond"),
        )

    def checkpoints(self, job_id: str) -> CheckpointSummary:
        """Counts of completed and failed checkpoints and the newest completed one."""
        body = self.get(f"/jobs/{job_id}/checkpoints")
        counts = body.get("counts", {})
        latest = (body.get("latest") or {}).get("completed") or {}
        return CheckpointSummary(
            completed=int(counts.get("completed", 0)),
            failed=int(counts.get("failed", 0)),
            latest_path=latest.get("external_path"),
            latest_id=latest.get("id"),
        )

    def _source_sum(self, job_id: str, vertices: list[dict[str, Any]], metric: str) -> float:
        """A source operator's own metric: the task's counts each record once per chained
        branch the source feeds (the job's source feeds two: the features and the join)."""
        total = 0.0
        for vertex in vertices:
            path = f"/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics"
            names = [str(entry.get("id", "")) for entry in self.get(path)]
            own = [n for n in names if n.startswith("Source") and n.endswith(f".{metric}")]
            total += self._sum(job_id, [vertex], own[0] if own else metric)
        return total

    def _sum(self, job_id: str, vertices: list[dict[str, Any]], metric: str) -> float:
        total = 0.0
        for vertex in vertices:
            path = f"/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics?get={metric}&agg=sum"
            for entry in self.get(path):
                total += float(entry.get("sum", 0.0))
        return total
