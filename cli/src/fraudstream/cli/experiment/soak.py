"""`fraudstream experiment soak`: the pipeline under steady load; memory, files and latency."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from pathlib import Path

import click
from rich.console import Console

from fraudstream.cli.analysts import GroundTruth, SimulatedAnalysts
from fraudstream.cli.demo.build import Steps
from fraudstream.cli.experiment.chaos import common_options, prepare_data
from fraudstream.cli.experiment.pipeline import Pipeline, PipelineConfig
from fraudstream.cli.experiment.replayer import SteadyReplay
from fraudstream.cli.stack import Stack

logger = logging.getLogger(__name__)

# Rows of simulated data replayed in passes (each pass its own event ids) to fill the run.
_PASS_ROWS = 200_000


@click.command("soak")
@click.option("--minutes", type=click.FloatRange(min=0.5), default=10.0, show_default=True)
@click.option(
    "--rate",
    type=click.FloatRange(min=1),
    default=5000.0,
    show_default=True,
    help="Replay rate in tx/s, held for the whole run.",
)
@click.option(
    "--sample-every",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    help="Seconds between samples of /proc and the bridge's /metrics.",
)
@common_options
def soak(
    minutes: float,
    rate: float,
    sample_every: float,
    models: Path | None,
    input_csv: Path | None,
    train_rows: int,
    seed: int,
    bootstrap: str | None,
    analysts: int,
    analyst_delay: float,
    workdir: Path,
    out: Path,
) -> None:
    """Hold --rate for --minutes with analysts labeling; sample every process from /proc.

    RSS and open files of each service and of the broker, and the bridge's p99 event
    latency per minute, judged after a warm-up (a fifth of the run, at most a minute):
    RSS growth at most 10%, open files flat, p99 within 20%. Writes reports/soak_report.json
    and a plot.
    """
    import pandas as pd

    from fraudstream.cli.experiment.soak_latency import by_minute, read_both
    from fraudstream.cli.experiment.soak_plot import write
    from fraudstream.cli.experiment.soak_report import STOLEN_MINUTE_S, analyse, take_sample

    console = Console(highlight=False)
    steps = Steps(console)
    seconds = minutes * 60
    events = int(rate * seconds)
    models, csv = prepare_data(
        steps, workdir, models, input_csv, min(events, _PASS_ROWS), train_rows, seed
    )
    truth = pd.read_csv(csv, usecols=["isFraud"])["isFraud"].to_numpy()
    token = "soak-" + uuid.uuid4().hex[:8]
    config = PipelineConfig(
        run_dir=workdir / "soak-run",
        models=models,
        token=token,
        bootstrap=bootstrap,
        group_id=f"fraudstream-ingest-{token}" if bootstrap else None,
    )
    warmup = min(60.0, seconds / 5)
    samples = []
    shutil.rmtree(config.run_dir, ignore_errors=True)  # each run starts from nothing
    with Stack(config.run_dir) as stack:
        pipeline = Pipeline(config, stack)
        with steps.step("start Kafka and the four services") as timer:
            startup = pipeline.start()
            timer.note = ", ".join(f"{k} {v:.1f} s" for k, v in startup.items())
        team = SimulatedAnalysts(
            pipeline.address("feedback"),
            token,
            GroundTruth(truth),
            analysts=analysts,
            delay=analyst_delay,
            seed=seed,
        )
        run_id = "soak" + token[5:]
        replayer = SteadyReplay(csv, pipeline.bootstrap, rate, events, run_id)
        urls = {n: pipeline.services[n].metrics_url for n in ("ingest", "scorer", "learner")}
        with steps.step(f"hold {rate:,.0f} tx/s for {minutes:g} min, sampling") as timer:
            team.start()
            began_ms = time.time_ns() // 1_000_000
            replayer.start()
            began = time.monotonic()
            try:
                while replayer.is_alive():
                    at = time.monotonic() - began
                    samples.append(take_sample(at, pipeline.pids(), urls))
                    _progress(console, samples[-1], replayer.replayed, warmup)
                    pipeline.check_alive()
                    if replayer.error is not None:
                        raise click.ClickException(f"replay failed: {replayer.error}")
                    time.sleep(max(0.0, began + at + sample_every - time.monotonic()))
                time.sleep(2.0)  # the last events routed and counted
                samples.append(take_sample(time.monotonic() - began, pipeline.pids(), urls))
            finally:
                team.stop(timeout=5)
            timer.note = f"{replayer.replayed:,} events, {len(samples)} samples"
        with steps.step("read every event and score back from Kafka") as timer:
            produced, scored = read_both(
                pipeline.bootstrap,
                began_ms - 1000,
                run_id,
                lambda line: console.print(f"    {line}"),
            )
            exact = by_minute(produced, scored, began_ms, warmup)
            timer.note = f"{exact['events']:,} events with a score, {exact['unscored']:,} without"
    settings = {
        "minutes": minutes,
        "rate": rate,
        "sample_every_s": sample_every,
        "analysts": analysts,
        "models": str(models),
        "replayed_csv": str(csv),
        "reused_broker": bool(bootstrap),
        "replayed": replayer.replayed,
    }
    report = analyse(samples, warmup, settings, exact)
    report["startup_seconds"] = {k: round(v, 2) for k, v in startup.items()}
    report["steps"] = steps.as_dict()
    json_path, png_path = write(report, out)
    for name, p in report["processes"].items():
        console.print(
            f"{name:>9}: RSS {p['rss_mib_after_warmup']} -> {p['rss_mib_end']} MiB "
            f"({p['rss_growth']:+.1%}), open files {p['fds_after_warmup']} -> {p['fds_end']}"
        )
    per_minute = report["latency"]["by_minute"]
    console.print(f"p99 per minute (exact): {[m['p99_s'] for m in per_minute]}")
    console.print(f"p99 per minute (histogram): {[m['p99_histogram_s'] for m in per_minute]}")
    stolen = [m.get("machine_stalled_s", {}).get("cpu_stolen") for m in per_minute]
    if any(s is not None for s in stolen):
        latency = report["latency"]
        console.print(
            f"CPU seconds stolen by the hypervisor per minute: {stolen}; p99 spread "
            f"{latency['p99_spread']}, without the minutes with >= {STOLEN_MINUTE_S:g} s stolen "
            f"{latency['minutes_stolen']}: {latency['p99_spread_without_stolen_minutes']}"
        )
    worst = report["latency"]["exact"].get("worst_seconds", [])[:3]
    console.print(
        "slowest seconds after warm-up: "
        + (", ".join(f"t+{w['second']} s {w['max_s'] * 1000:.0f} ms" for w in worst) or "none")
    )
    console.print(f"verdict: {report['verdict']}")
    console.print(f"wrote {json_path} and {png_path}")


def _progress(console: Console, sample: dict, replayed: int, warmup: float) -> None:
    rss = ", ".join(f"{n} {p['rss_mib']:.0f}" for n, p in sample["processes"].items())
    phase = " (warm-up)" if sample["t"] < warmup else ""
    console.print(
        f"    t+{sample['t']:5.0f} s{phase}  replayed {replayed:,}  "
        f"consumed {int(sample['events_in']):,}  RSS MiB: {rss}"
    )
