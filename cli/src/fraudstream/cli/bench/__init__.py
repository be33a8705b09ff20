"""`fraudstream bench`: scorer, MLServer peer, end-to-end and offline figures in one report."""

from __future__ import annotations

import logging
import secrets
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from fraudstream.cli.bench.machine import load_average, machine_facts
from fraudstream.cli.bench.report import comparisons, print_table, write_chart, write_json
from fraudstream.cli.bench.workload import build_bundle, has_bundle, load_workload, say
from fraudstream.cli.demo.credentials import DemoCredentials

logger = logging.getLogger(__name__)

SECTIONS = ("scorer", "inprocess", "mlserver", "endtoend", "offline")
# Run only when asked for: `latency` repeats the scorer section's Score calls alone.
OPTIONAL_SECTIONS = ("latency",)
OFFLINE_ROWS = 200_000
# Transactions the serving sections cycle through (the end-to-end CSV may be longer).
_SERVING_TRANSACTIONS = {True: 10_240, False: 51_200}


def _sections(value: str) -> list[str]:
    chosen = [name.strip() for name in value.split(",") if name.strip()]
    known = (*SECTIONS, *OPTIONAL_SECTIONS)
    unknown = sorted(set(chosen) - set(known))
    if unknown or not chosen:
        raise click.BadParameter(f"choose among {', '.join(known)} (got {value!r})")
    return [name for name in known if name in chosen]


def _run(report: dict[str, Any], name: str, work: Callable[[], dict[str, Any]]) -> None:
    """Run one section into the report; a failure is recorded and the other sections go on."""
    began = time.monotonic()
    say(f"section {name}: start")
    try:
        report["sections"][name] = work()
    except Exception as exc:
        logger.debug("section %s failed", name, exc_info=True)
        message = exc.format_message() if isinstance(exc, click.ClickException) else repr(exc)
        report["sections"][name] = {"error": message, "traceback": traceback.format_exc()}
        say(f"section {name} FAILED: {message}")
    report["sections"][name]["section_seconds"] = time.monotonic() - began
    say(f"section {name}: done in {time.monotonic() - began:.1f}s")


@click.command("bench")
@click.option(
    "--models",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Model bundle to serve (default: train one on simulated data in --workdir).",
)
@click.option(
    "--sections",
    "sections",
    default=",".join(SECTIONS),
    show_default=True,
    help="Comma-separated sections to run; `latency` (Score latency alone) only when named.",
)
@click.option("--quick", is_flag=True, help="Small counts (a minute or two), for CI.")
@click.option(
    "--full-offline",
    is_flag=True,
    help="Offline timings at the full PaySim size (6,362,620 rows) instead of 200k.",
)
@click.option("--no-mlserver", is_flag=True, help="Skip the MLServer section.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/benchmark_report.json"),
    show_default=True,
    help="JSON report; the PNG chart goes next to it.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".cache/bench"),
    show_default=True,
    help="Simulated data, bundle, broker and service logs of the bench.",
)
@click.option(
    "--mlserver-venv",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".cache/mlserver-venv"),
    show_default=True,
    help="MLServer's own virtual environment (created on first use, then reused).",
)
def bench(
    models: Path | None,
    sections: str,
    quick: bool,
    full_offline: bool,
    no_mlserver: bool,
    output: Path,
    workdir: Path,
    mlserver_venv: Path,
) -> None:
    """Benchmark serving, the pipeline end to end and training, with same-run baselines.

    Runs everything on loopback, each section bounded in count and time, progress on stderr;
    writes the JSON report and a PNG chart and prints the headline table.
    """
    from fraudstream.cli.bench.inprocess import inprocess_section
    from fraudstream.cli.bench.latency import latency_section
    from fraudstream.cli.bench.offline import PAYSIM_ROWS
    from fraudstream.cli.bench.pipeline_sections import endtoend_section, offline_section
    from fraudstream.cli.bench.sections import Sizes, mlserver_section, scorer_section
    from fraudstream.cli.stack import Stack

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    chosen = [s for s in _sections(sections) if not (no_mlserver and s == "mlserver")]
    if models is not None and not has_bundle(models):
        raise click.BadParameter(f"{models} holds no model bundle", param_hint="--models")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = Sizes.choose(quick)
    offline_rows = PAYSIM_ROWS if full_offline else OFFLINE_ROWS
    began = time.monotonic()
    report: dict[str, Any] = {
        "generated_time": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["fraudstream", *sys.argv[1:]]),
        "quick": quick,
        "sections_requested": chosen,
        "machine": machine_facts(),
        "sizes": sizes.__dict__,
        "sections": {},
    }
    say(f"sections {', '.join(chosen)}; load average {report['machine']['load_average_before']}")
    if "offline" in chosen:
        _run(report, "offline", lambda: offline_section(workdir, offline_rows))
    if models is None:
        trained = Path(report["sections"].get("offline", {}).get("models", "/nonexistent"))
        models = trained if has_bundle(trained) else build_bundle(workdir)
    models = models.resolve()
    report["models"] = str(models)
    serving = [s for s in chosen if s in ("scorer", "latency", "inprocess", "mlserver", "endtoend")]
    if serving:
        wanted = _SERVING_TRANSACTIONS[quick]
        # The end-to-end phases replay the CSV's first rows, so it holds the longest phase.
        if "endtoend" in serving:
            longest = max(sizes.endtoend_throughput_events, sizes.endtoend_latency_events)
            rows = max(wanted, longest)
        else:
            rows = wanted
        workload = load_workload(workdir, rows, wanted)
        transactions = workload.transactions
    if {"scorer", "latency", "mlserver"} & set(serving):
        with Stack(workdir / "serving") as stack:
            creds = DemoCredentials.create(
                workdir / "serving" / "auth", tls=False, analyst_token=secrets.token_urlsafe(16)
            )
            # The bench drives StreamScores as the bridge does: with the bridge's token.
            bench = creds.transport("ingest")
            scorers = [
                stack.start_service(
                    *("scorer", "--models", str(models), "--learner-addr", ""),
                    env=creds.env("scorer"),
                    transport=bench,
                )
                for _ in range(sizes.scorers if "scorer" in serving else 1)
            ]
            for scorer in scorers:
                say(f"scorer process on {scorer.address}, waiting for SERVING")
                scorer.wait_serving(120)
            address, venv = scorers[0].address, mlserver_venv.resolve()
            if "scorer" in serving:
                addresses = [scorer.address for scorer in scorers]
                pids: list[int | None] = [scorer.process.pid for scorer in scorers]
                _run(
                    report,
                    "scorer",
                    lambda: scorer_section(
                        addresses, models, transactions, sizes, pids, transport=bench
                    ),
                )
            if "latency" in serving:
                first = scorers[0]
                _run(
                    report,
                    "latency",
                    lambda: latency_section(first, transactions, sizes, transport=bench),
                )
            if "inprocess" in serving:
                _run(
                    report,
                    "inprocess",
                    lambda: inprocess_section(
                        models, transactions, sizes.inprocess_repeats, sizes.inprocess_min_seconds
                    ),
                )
            if "mlserver" in serving:
                _run(
                    report,
                    "mlserver",
                    lambda: mlserver_section(
                        address, models, transactions, sizes, venv, workdir, transport=bench
                    ),
                )
    if "endtoend" in serving:
        _run(report, "endtoend", lambda: endtoend_section(workdir, models, workload.csv, sizes))
    report["machine"]["load_average_after"] = load_average()
    report["total_seconds"] = time.monotonic() - began
    report["figures"] = {
        key: entry
        for section in report["sections"].values()
        for key, entry in section.pop("figures", {}).items()
    }
    report["figures"].update(comparisons(report["figures"]))
    write_json(report, output)
    chart = write_chart(report, output.with_suffix(".png"))
    click.echo(
        f"\nfraudstream bench ({'quick' if quick else 'full'}) on "
        f"{report['machine']['cpus_usable']} cores, load average "
        f"{report['machine']['load_average_before']} -> "
        f"{report['machine']['load_average_after']}"
    )
    print_table(report)
    click.echo(f"report: {output}" + (f", chart: {chart}" if chart else ""))
    if any("error" in section for section in report["sections"].values()):
        raise SystemExit(1)
