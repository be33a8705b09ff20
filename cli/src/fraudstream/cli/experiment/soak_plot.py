"""The soak's report on disk: reports/soak_report.json and its plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fraudstream.cli.experiment.soak_report import STOLEN_MINUTE_S

JSON_FILE = "soak_report.json"
PNG_FILE = "soak_report.png"
_STALL_MARK_S = 1.0  # I/O stall of the whole machine in a minute marked on the plot


def write(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """reports/soak_report.json and a PNG: RSS and open files per process, p99 per minute."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / JSON_FILE, out / PNG_FILE
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    samples = report["samples"]
    figure, (rss, fds, p99, cpu) = plt.subplots(4, 1, figsize=(10, 12), sharex=False)
    for name in report["processes"]:
        points = [(s["t"], s["processes"][name]) for s in samples if name in s["processes"]]
        times = [t for t, _ in points]
        rss.plot(times, [p["rss_mib"] for _, p in points], label=name)
        fds.plot(times, [p["fds"] for _, p in points], label=name)
    for axis in (rss, fds):
        axis.axvline(report["warmup_s"], color="grey", linestyle=":", linewidth=1)
        axis.legend(fontsize=7, loc="upper left", ncol=5)
    rss.set_ylabel("RSS (MiB)")
    fds.set_ylabel("open files")
    fds.set_xlabel("seconds (dotted: end of warm-up)")
    minutes = report["latency"]["by_minute"]
    exact = report["latency"].get("exact") is not None
    p99.bar(
        [m["minute"] for m in minutes],
        [m["p99_s"] or 0 for m in minutes],
        color="tab:red",
        label="p99, every event read back" if exact else "p99 from the histogram",
    )
    each = (report["latency"].get("exact") or {}).get("by_second")
    if each:  # second s of the run is in minute s // 60 + 1, whose bar is centred on it
        p99.plot(
            [0.5 + t / 60 for t in each["second"]],
            [ms / 1000 for ms in each["p99_ms"]],
            color="grey",
            linewidth=0.6,
            label="p99 of each second",
        )
    if exact:
        p99.plot(
            [m["minute"] for m in minutes],
            [m.get("p99_histogram_s") or 0 for m in minutes],
            "k_",
            markersize=14,
            label="p99 from the bridge's histogram",
        )
        p99.legend(fontsize=7, loc="upper right")
    p99.set_yscale("log")
    p99.set_xticks([m["minute"] for m in minutes])
    p99.set_xlabel(
        "minute (P: a promotion in that minute, R: a rollback,\n"
        f"IO: the machine's tasks all stalled on I/O for >= {_STALL_MARK_S:g} s, "
        f"ST: >= {STOLEN_MINUTE_S:g} CPU s stolen by the hypervisor)"
    )
    p99.set_ylabel("p99 event latency (s)")
    for m in minutes:
        marks = "P" * m.get("promotions", 0) + "R" * m.get("rollbacks", 0)
        if m.get("machine_stalled_s", {}).get("io_full", 0.0) >= _STALL_MARK_S:
            marks += " IO"
        if m.get("machine_stalled_s", {}).get("cpu_stolen", 0.0) >= STOLEN_MINUTE_S:
            marks += " ST"
        if marks:
            p99.annotate(marks, (m["minute"], m["p99_s"] or 0), ha="center", va="bottom")
    for name in report["processes"]:
        used = [
            (m["minute"], m["cpu_cores"][name]) for m in minutes if name in m.get("cpu_cores", {})
        ]
        cpu.plot([x for x, _ in used], [y for _, y in used], marker="o", label=name)
    cpu.set_xticks([m["minute"] for m in minutes])
    cpu.set_xlabel("minute")
    cpu.set_ylabel("CPU (cores)")
    cpu.legend(fontsize=7, loc="upper left", ncol=5)
    s = report["settings"]
    rss.set_title(f"Soak: {s['minutes']} min at {s['rate']:,.0f} tx/s")
    figure.tight_layout()
    figure.savefig(png_path, dpi=110)
    plt.close(figure)
    return json_path, png_path
