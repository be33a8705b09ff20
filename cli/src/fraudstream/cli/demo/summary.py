"""The demo's summary: detection, throughput, latency and online updates of one run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fraudstream.cli.analysts import SimulatedAnalysts
from fraudstream.cli.demo.config import LiveConfig
from fraudstream.cli.demo.outcome import ScoredReader, frozen_decisions
from fraudstream.cli.demo.view import Progress
from fraudstream.cli.demo.watch import (
    PipelineSample,
    buckets,
    judgement_causes,
    quantile,
    total,
)

SUMMARY_FILE = "demo_summary.json"


def _quantiles(sample: PipelineSample, service: str, histogram: str) -> dict[str, Any]:
    counts = buckets(getattr(sample, service), histogram)
    values = {f"p{round(q * 100)}": quantile(counts, q) for q in (0.5, 0.95, 0.99)}
    result: dict[str, Any] = {k: None if v is None else round(v, 6) for k, v in values.items()}
    top = max((bound for bound in counts if bound != float("inf")), default=None)
    if top is not None and any(v is not None and v >= top for v in values.values()):
        result["capped_at"] = top  # beyond the last bucket: the true value is at least this
    return result


def summarise(
    run_id: str,
    config: LiveConfig,
    reader: ScoredReader,
    analysts: SimulatedAnalysts,
    replay_seconds: float,
    final: PipelineSample,
    first: PipelineSample,
    seconds: float,
    progress: Progress,
) -> dict[str, Any]:
    """Everything worth keeping about the run, JSON-ready."""
    status = final.learner_status
    stats = analysts.stats
    learner: dict[str, Any] = {"answering": status is not None}
    if status is not None:
        learner.update(
            labels_seen=status.labels_seen,
            label_position=status.label_position,
            updates=status.updates,
            promotions=status.promotions,
            refusals=status.refusals,
            rollbacks=status.rollbacks,
            last_judgement=status.last_judgement,
            champion_version=status.champion_version,
            champion_window_pr_auc=round(status.champion_metrics.pr_auc, 4),
            champion_window_recall=round(status.champion_metrics.recall, 4),
            scorers={s.scorer_id: s.applied_version for s in status.scorers},
        )
    learner["judgements"] = {
        outcome: int(total(final.learner, "learner_promotion_judgements_total", outcome=outcome))
        for outcome in ("promote", "refuse", "wait")
    }
    learner["judgement_causes"] = judgement_causes(final.learner)
    learner["label_to_served_seconds"] = _quantiles(
        final, "learner", "learner_label_to_served_seconds"
    )
    events_in = total(final.ingest, "stream_events_in_total") - total(
        first.ingest, "stream_events_in_total"
    )
    return {
        "run_id": run_id,
        "rows": progress.rows,
        "replayed": progress.replayed,
        "input": str(config.replay_csv),
        "bundle": str(config.models),
        "complete": reader.scored >= progress.replayed > 0,
        "replay": {
            "seconds": round(replay_seconds, 2),
            "tx_per_second": round(progress.replayed / replay_seconds, 1)
            if replay_seconds
            else None,
            "rate_asked": config.rate,
        },
        "throughput": {
            "scored": reader.scored,
            "seconds": round(seconds, 2),
            "tx_per_second": round(reader.scored / seconds, 1) if seconds else None,
            "ingest_events_in": int(events_in),
            "note": "replay start to the last score read back from transactions.scored",
        },
        "latency_seconds": {
            "kafka_to_routed": _quantiles(final, "ingest", "ingest_event_latency_seconds"),
            "scorer_batch": _quantiles(final, "scorer", "scorer_batch_latency_seconds"),
            "note": "estimated from Prometheus histogram buckets; when the replay outruns the "
            "pipeline (--rate 0) this includes the wait behind the backlog",
        },
        "detection": reader.detection(),
        "frozen_vs_served": reader.frozen_vs_served(
            frozen_decisions(config.replay_csv, config.rows, config.models)
        ),
        "alerts": {
            "raised": int(total(final.ingest, "stream_events_anomaly_total")),
            "accepted_by_feedback": int(
                total(final.feedback, "feedback_alerts_total", kind="alert", outcome="accepted")
            ),
            "audit_cases": int(
                total(final.feedback, "feedback_alerts_total", kind="audit", outcome="accepted")
            ),
            "queue_depth_at_end": int(total(final.feedback, "feedback_queue_depth")),
        },
        "analysts": {
            "count": config.analysts,
            "delay_seconds": config.analyst_delay,
            "error_rate": config.error_rate,
            "labels": stats.labels,
            "fraud": stats.fraud,
            "legit": stats.legit,
            "flipped": stats.flipped,
        },
        "learner": learner,
        "scorer": {
            "model_version": final.scorer_version,
            "snapshots_applied": int(total(final.scorer, "scorer_snapshots_applied_total")),
            "snapshots_rejected": int(total(final.scorer, "scorer_snapshots_rejected_total")),
        },
    }


def write_summary(summary: dict[str, Any], reports: Path) -> Path:
    """Write `reports/demo_summary.json`; returns its path."""
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / SUMMARY_FILE
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return path


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f} pt"


def _ms(value: float | None, capped_at: float | None = None) -> str:
    if value is None:
        return "-"
    at_least = ">= " if capped_at is not None and value >= capped_at else ""
    return f"{at_least}{value * 1000:,.1f} ms"


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    """The summary as a table."""
    flagged = summary["detection"]["flagged"]
    blocked = summary["detection"]["blocked"]
    throughput, latency = summary["throughput"], summary["latency_seconds"]
    routed = latency["kafka_to_routed"]
    cap = routed.get("capped_at")
    learner, analysts = summary["learner"], summary["analysts"]
    table = Table(title=f"fraudstream demo: summary of {summary['run_id']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row(
        "transactions",
        f"{throughput['scored']:,} scored of {summary['replayed']:,} replayed "
        f"({summary['detection']['redelivered']:,} redelivered, counted once)",
    )
    table.add_row(
        "throughput",
        f"{throughput['tx_per_second'] or 0:,.0f} tx/s end to end over {throughput['seconds']} s "
        f"(replay alone {summary['replay']['tx_per_second'] or 0:,.0f} tx/s)",
    )
    table.add_row(
        "latency Kafka -> routed",
        f"p50 {_ms(routed['p50'], cap)}, p99 {_ms(routed['p99'], cap)}"
        f"; scorer batch p99 {_ms(latency['scorer_batch']['p99'])}",
    )
    table.add_row(
        "alerts (REVIEW+BLOCK)",
        f"{flagged['tp'] + flagged['fp']:,}: precision {_pct(flagged['precision'])}, "
        f"recall {_pct(flagged['recall'])} of {flagged['frauds']:,} frauds",
    )
    quality = summary.get("frozen_vs_served")
    if quality is not None:
        held, gap = quality["frozen"], quality["served_minus_frozen_points"]
        bundle = quality["bundle_served"]
        table.add_row(
            "  same bundle, frozen",
            f"{held['tp'] + held['fp']:,}: precision {_pct(held['precision'])}, "
            f"recall {_pct(held['recall'])} on the same {quality['events']:,} events "
            f"(served - frozen: precision {_points(gap['precision'])}, "
            f"recall {_points(gap['recall'])}; {bundle['same_decision']:,} of "
            f"{bundle['events']:,} bundle-served decisions reproduced)",
        )
    table.add_row(
        "BLOCK",
        f"{blocked['tp'] + blocked['fp']:,}: precision {_pct(blocked['precision'])}, "
        f"recall {_pct(blocked['recall'])}",
    )
    table.add_row(
        "analysts",
        f"{analysts['labels']:,} labels ({analysts['fraud']:,} fraud, {analysts['legit']:,} "
        f"legit, {analysts['flipped']:,} deliberately wrong); "
        f"{summary['alerts']['queue_depth_at_end']:,} cases left in the queue",
    )
    if learner["answering"]:
        served = learner["label_to_served_seconds"]
        table.add_row(
            "online learning",
            f"{learner['labels_seen']:,} labels, {learner['updates']:,} updates, "
            f"{learner['promotions']:,} promotions, {learner['refusals']:,} refused, "
            f"{learner['rollbacks']:,} rolled back; "
            f"label-to-served p50 {_ms(served['p50'])}, p99 {_ms(served['p99'])}",
        )
    table.add_row("scorer model at the end", summary["scorer"]["model_version"])
    for what, numbers in _bundle_vs_online(summary["detection"]["by_model_version"]).items():
        table.add_row(
            f"  served by {what}",
            f"{numbers['transactions']:,} tx, recall {_pct(numbers['recall'])}, "
            f"precision {_pct(numbers['precision'])}",
        )
    console.print(table)
    replay_rate = summary["replay"]["tx_per_second"] or 0
    if routed["p50"] is not None and replay_rate > 1.2 * (throughput["tx_per_second"] or 0):
        console.print(
            "[dim]the replay outran the pipeline, so latency includes the wait behind the "
            f"backlog; for serving latency run with --rate below "
            f"{throughput['tx_per_second']:,.0f}[/]"
        )


def _bundle_vs_online(by_version: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Detection of the offline bundle (snapshot 0) and of all online snapshots together."""
    groups: dict[str, dict[str, Any]] = {}
    for version, numbers in by_version.items():
        online = not version.endswith("+s0")
        key = "online snapshots" if online else "the offline bundle"
        group = groups.setdefault(key, {"transactions": 0, "tp": 0, "fp": 0, "fn": 0, "n": 0})
        group["n"] += 1
        for field in ("transactions", "tp", "fp", "fn"):
            group[field] += numbers[field]
    for group in groups.values():
        tp = group["tp"]
        group["recall"] = tp / (tp + group["fn"]) if tp + group["fn"] else None
        group["precision"] = tp / (tp + group["fp"]) if tp + group["fp"] else None
    if "online snapshots" in groups:
        count = groups["online snapshots"].pop("n")
        groups[f"{count} online snapshots"] = groups.pop("online snapshots")
    return groups
