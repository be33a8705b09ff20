"""The soak run's samples (RSS, open files, latency from /proc and /metrics), verdict and plot."""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from fraudstream.cli.demo.watch import bucket_delta, buckets, quantile, scrape, total

RSS_GROWTH_TARGET = 0.10
P99_SPREAD_TARGET = 0.20
# A minute in which the hypervisor took this many CPU seconds from the machine (of 60 per core)
# is reported apart: its latency says more about the host than about the pipeline.
STOLEN_MINUTE_S = 2.0
FDS_SLACK = 3  # descriptors a process may hold above its post-warm-up count and still be flat
LATENCY = "ingest_event_latency_seconds"
_SOURCE_HISTOGRAM = f"{LATENCY} (Kafka timestamp to score routed) of the ingest bridge"
_SOURCE_EXACT = (
    "each event's Kafka timestamp on transactions against its score's on transactions.scored, "
    "read back after the run (1 ms); minutes by production time. p99_s_after_warmup and "
    "p99_histogram_s: from " + LATENCY
)


_TICKS = os.sysconf("SC_CLK_TCK")


def process_sample(pid: int) -> dict[str, float] | None:
    """RSS (MiB), open file descriptors and CPU seconds (user + system) so far of a live process,
    from /proc; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    # Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    return {"rss_mib": round(rss_kb / 1024, 1), "fds": fds, "cpu_s": round(cpu, 2)}


def pressure() -> dict[str, float]:
    """Seconds so far that some or all tasks of this machine were stalled waiting for the CPU or
    for I/O (Linux pressure stall information; absent where the kernel does not offer it), and
    `cpu_stolen`: CPU seconds its hypervisor gave to others while this virtual machine's CPUs
    had work (steal time in /proc/stat; 0 on bare metal)."""
    stalls = {}
    try:
        # cpu  user nice system idle iowait irq softirq steal ...: the machine's total line.
        total_line = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        if total_line[0] == "cpu" and len(total_line) > 8:
            stalls["cpu_stolen"] = int(total_line[8]) / _TICKS
    except (OSError, ValueError):
        pass
    for kind in ("cpu", "io"):
        try:
            lines = Path(f"/proc/pressure/{kind}").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            scope, *fields = line.split()
            total = next(f for f in fields if f.startswith("total="))
            stalls[f"{kind}_{scope}"] = int(total[len("total=") :]) / 1e6
    return stalls


def take_sample(at: float, pids: dict[str, int], metrics_urls: dict[str, str]) -> dict[str, Any]:
    """One look at every process, the bridge's latency histogram, and what the loop did so far
    (alerts decided, the scorer's champion and challenger, the learner's promotions), so a
    change in latency or CPU can be told from a change in the model."""
    ingest = scrape(metrics_urls["ingest"])
    scorer = scrape(metrics_urls["scorer"])
    learner = scrape(metrics_urls["learner"])
    processes = {name: s for name, pid in pids.items() if (s := process_sample(pid)) is not None}
    return {
        "t": round(at, 2),
        "processes": processes,
        "machine_stalled_s": pressure(),
        "events_in": total(ingest, "stream_events_in_total"),
        "latency_buckets": {str(k): v for k, v in buckets(ingest, LATENCY).items()},
        "loop": {
            "reviews": total(scorer, "scorer_decisions_total", decision="review"),
            "blocks": total(scorer, "scorer_decisions_total", decision="block"),
            "champion_version": total(scorer, "scorer_model_snapshot_version"),
            "challenger_version": total(scorer, "scorer_challenger_snapshot_version"),
            "promotions": total(learner, "learner_promotions_total"),
            "rollbacks": total(learner, "learner_rollbacks_total"),
        },
    }


def _cumulative(sample: dict[str, Any]) -> dict[float, float]:
    return {float(k): v for k, v in sample["latency_buckets"].items()}


def _per_minute(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """p99 of event latency and events per one-minute window, from histogram differences."""
    minutes = []
    start = samples[0]
    for index in range(1, int(samples[-1]["t"] // 60) + 2):
        inside = [s for s in samples if s["t"] <= index * 60]
        end = inside[-1]
        if end["t"] - start["t"] < 30:  # a last window under half a minute says little
            break
        delta = bucket_delta(_cumulative(end), _cumulative(start))
        p99 = quantile(delta, 0.99)
        minutes.append(
            {
                "minute": index,
                "from_s": start["t"],
                "to_s": end["t"],
                "events": int(end["events_in"] - start["events_in"]),
                "p99_s": None if p99 is None else round(p99, 4),
                "p50_s": None if (p50 := quantile(delta, 0.5)) is None else round(p50, 4),
                **_loop_in(start, end),
            }
        )
        start = end
    return minutes


def _loop_in(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    """What each process used (CPU cores on average) and what the loop did between two samples."""
    seconds = end["t"] - start["t"]
    cores = {
        name: round((p["cpu_s"] - start["processes"][name]["cpu_s"]) / seconds, 3)
        for name, p in end["processes"].items()
        if name in start["processes"] and "cpu_s" in p
    }
    before, after = start.get("loop", {}), end.get("loop", {})
    stalled_from, stalled_to = start.get("machine_stalled_s", {}), end.get("machine_stalled_s", {})
    return {
        "cpu_cores": cores,
        # Seconds of the window this machine's tasks (any of them: some; all: full) waited for
        # a CPU or for I/O: a latency spike with a stall here came from outside the pipeline.
        "machine_stalled_s": {
            kind: round(total - stalled_from[kind], 2)
            for kind, total in stalled_to.items()
            if kind in stalled_from
        },
        "alerts": int(sum(after.get(k, 0) - before.get(k, 0) for k in ("reviews", "blocks"))),
        "promotions": int(after.get("promotions", 0) - before.get("promotions", 0)),
        "rollbacks": int(after.get("rollbacks", 0) - before.get("rollbacks", 0)),
        "challenger_at_end": bool(after.get("challenger_version", 0)),
    }


def analyse(
    samples: list[dict[str, Any]],
    warmup: float,
    settings: dict[str, Any],
    exact: dict[str, Any] | None = None,
) -> dict:
    """Growth after warm-up per process, p99 per minute, and the verdict against the targets.

    With `exact` (soak_latency.by_minute: every event read back from Kafka), a minute's p50 and
    p99 are those, to the millisecond; the histogram's stay beside them as `..._histogram_s`.
    """
    after = [s for s in samples if s["t"] >= warmup] or samples[-1:]
    names = sorted({name for s in samples for name in s["processes"]})
    processes = {}
    for name in names:
        seen = [s["processes"][name] for s in after if name in s["processes"]]
        base, tail = seen[0], seen[-3:]
        end_rss = statistics.median(p["rss_mib"] for p in tail)
        end_fds = max(p["fds"] for p in tail)
        growth = end_rss / base["rss_mib"] - 1 if base["rss_mib"] else 0.0
        processes[name] = {
            "samples": sum(name in s["processes"] for s in samples),
            "rss_mib_after_warmup": base["rss_mib"],
            "rss_mib_end": end_rss,
            "rss_mib_max": max(p["rss_mib"] for p in seen),
            "rss_growth": round(growth, 4),
            "rss_ok": growth <= RSS_GROWTH_TARGET,
            "fds_after_warmup": base["fds"],
            "fds_end": end_fds,
            "fds_max": max(p["fds"] for p in seen),
            "fds_flat": end_fds - base["fds"] <= max(FDS_SLACK, 0.05 * base["fds"]),
        }
    minutes = _per_minute(samples)
    if exact is not None:
        _take_exact(minutes, exact)
    judged = [m for m in minutes if _after_warmup(m, warmup, exact is not None) and m["p99_s"]]
    if not judged:  # a run shorter than warm-up plus a minute: the only minutes there are
        judged = [m for m in minutes if m["p99_s"]]
    compared = [m["p99_s"] for m in judged]
    spread = _spread(compared)
    stolen = [m["minute"] for m in judged if _stolen(m) >= STOLEN_MINUTE_S]
    rest = _spread([m["p99_s"] for m in judged if m["minute"] not in stolen])
    whole = bucket_delta(_cumulative(samples[-1]), _cumulative(after[0]))
    p99_whole = None if (q := quantile(whole, 0.99)) is None else round(q, 4)
    if exact is not None:
        p99_whole = exact["p99_s_after_warmup"]
    return {
        "settings": settings,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "note": "a 2-core machine shared with other engineers' builds and tests",
        },
        "warmup_s": round(warmup, 1),
        "duration_s": samples[-1]["t"],
        "events_in": int(samples[-1]["events_in"]),
        "processes": processes,
        "latency": {
            "source": _SOURCE_EXACT if exact is not None else _SOURCE_HISTOGRAM,
            "exact": None
            if exact is None
            else {k: v for k, v in exact.items() if k != "by_minute"},
            "p99_s_after_warmup": p99_whole,
            "by_minute": minutes,
            "p99_minutes_compared": len(compared),
            "p99_spread": None if spread is None else round(spread, 4),
            # Not the verdict: the same spread without the minutes the host took CPU from.
            "minutes_stolen": stolen,
            "p99_spread_without_stolen_minutes": None if rest is None else round(rest, 4),
        },
        "verdict": {
            "rss_growth_at_most_10pct": all(p["rss_ok"] for p in processes.values()),
            "open_files_flat": all(p["fds_flat"] for p in processes.values()),
            "p99_stable_within_20pct": spread is not None and spread <= P99_SPREAD_TARGET,
            "meaning": "RSS: median of the last 3 samples against the first after warm-up; "
            f"files: the last 3 samples at most max({FDS_SLACK}, 5%) above the first after "
            "warm-up; p99: each minute after warm-up within 20% of their median",
        },
        "samples": samples,
    }


def _after_warmup(minute: dict[str, Any], warmup: float, exact: bool) -> bool:
    """Whether a minute is judged. Read back, minute m holds the events produced in seconds
    60(m-1) to 60m of the run; from the histogram, it is the window between two samples, which
    may begin a sample early (55 s rather than 60) when the 60 s sample came late."""
    begins = (minute["minute"] - 1) * 60 if exact else minute["from_s"]
    return begins >= warmup - 1


def _spread(p99s: list[float]) -> float | None:
    """The largest distance of a p99 from their median, as a share of it."""
    middle = statistics.median(p99s) if p99s else None
    return max(abs(p / middle - 1) for p in p99s) if middle else None


def _stolen(minute: dict[str, Any]) -> float:
    return float(minute.get("machine_stalled_s", {}).get("cpu_stolen", 0.0))


def _take_exact(minutes: list[dict[str, Any]], exact: dict[str, Any]) -> None:
    measured = {m["minute"]: m for m in exact["by_minute"]}
    for minute in minutes:
        minute["p99_histogram_s"], minute["p50_histogram_s"] = minute["p99_s"], minute["p50_s"]
        read = measured.get(minute["minute"])
        minute["p99_s"] = read["p99_s"] if read else None
        minute["p50_s"] = read["p50_s"] if read else None
        minute["max_s"] = read["max_s"] if read else None
        minute["events_read_back"] = read["events"] if read else 0
