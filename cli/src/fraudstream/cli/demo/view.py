"""The demo's live console view: one table of the pipeline, refreshed from `PipelineSample`s."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.table import Table

from fraudstream.cli.demo.watch import PipelineSample, bucket_delta, buckets, quantile, total

_EVENT_LATENCY = "ingest_event_latency_seconds"
_BATCH_LATENCY = "scorer_batch_latency_seconds"
_LABEL_TO_SERVED = "learner_label_to_served_seconds"


@dataclass
class Progress:
    """How far the run is, from the demo's own side (replay producer, scored-topic reader)."""

    rows: int
    replayed: int = 0
    scored: int = 0
    flagged: int = 0
    analyst_labels: int = 0


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f} ms"


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def status_line(progress: Progress, now: PipelineSample, before: PipelineSample | None) -> str:
    """One line of the same numbers, for logs and CI where no live table can redraw."""
    status = now.learner_status
    learner = (
        f"labels {status.labels_seen:,}, promotions {status.promotions}"
        if status is not None
        else "learner not answering"
    )
    p99 = _recent_quantile(now, before, "ingest", _EVENT_LATENCY, 0.99)
    return (
        f"replayed {progress.replayed:,}/{progress.rows:,}, scored {progress.scored:,} "
        f"({_rate(now, before):,.0f} tx/s, p99 {p99}), "
        f"alerts {total(now.ingest, 'stream_events_anomaly_total'):,.0f}, "
        f"queue {total(now.feedback, 'feedback_queue_depth'):,.0f}, {learner}, "
        f"model {now.scorer_version}"
    )


def _rate(now: PipelineSample, before: PipelineSample | None) -> float:
    if before is None or now.at <= before.at:
        return 0.0
    events = total(now.ingest, "stream_events_in_total") - total(
        before.ingest, "stream_events_in_total"
    )
    return max(events, 0.0) / (now.at - before.at)


def _recent_quantile(
    now: PipelineSample, before: PipelineSample | None, service: str, histogram: str, q: float
) -> str:
    """The quantile over the last interval (else since start), '>= x' beyond the last bucket."""
    current = buckets(getattr(now, service), histogram)
    value = None
    if before is not None:
        value = quantile(bucket_delta(current, buckets(getattr(before, service), histogram)), q)
    if value is None:
        value = quantile(current, q)
    top = max((bound for bound in current if not math.isinf(bound)), default=None)
    at_least = ">= " if value is not None and top is not None and value >= top else ""
    return at_least + _ms(value)


def render(progress: Progress, now: PipelineSample, before: PipelineSample | None) -> Table:
    """The live table: rate, latency, alerts, queue depth, model version, promotions."""
    table = Table(title="fraudstream demo: live", show_header=False, expand=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_column("detail", style="dim")
    share = progress.replayed / progress.rows if progress.rows else 0.0
    table.add_row("replayed", f"{progress.replayed:,} / {progress.rows:,}", f"{share:.0%}")
    lag = total(now.ingest, "ingest_consumer_lag")
    table.add_row(
        "scored",
        f"{progress.scored:,}",
        f"{_rate(now, before):,.0f} tx/s now, consumer lag {max(lag, 0):,.0f}",
    )
    table.add_row(
        "latency (Kafka -> routed)",
        f"p50 {_recent_quantile(now, before, 'ingest', _EVENT_LATENCY, 0.5)}",
        f"p99 {_recent_quantile(now, before, 'ingest', _EVENT_LATENCY, 0.99)}, "
        f"scorer batch p99 {_recent_quantile(now, before, 'scorer', _BATCH_LATENCY, 0.99)}",
    )
    blocked = total(now.scorer, "scorer_decisions_total", decision="block")
    table.add_row(
        "alerts (REVIEW+BLOCK)",
        f"{total(now.ingest, 'stream_events_anomaly_total'):,.0f}",
        f"{blocked:,.0f} blocked; audit cases "
        f"{total(now.feedback, 'feedback_alerts_total', kind='audit', outcome='accepted'):,.0f}",
    )
    table.add_row(
        "analyst queue",
        f"{total(now.feedback, 'feedback_queue_depth'):,.0f} open",
        f"{total(now.feedback, 'feedback_leased_cases'):,.0f} leased, "
        f"verdicts fraud {total(now.feedback, 'feedback_verdicts_total', verdict='fraud'):,.0f} "
        f"/ legit {total(now.feedback, 'feedback_verdicts_total', verdict='legit'):,.0f}",
    )
    status = now.learner_status
    if status is None:
        table.add_row("learner", "(not answering)", "")
    else:
        served = quantile(buckets(now.learner, _LABEL_TO_SERVED), 0.99)
        table.add_row(
            "learner",
            f"{status.labels_seen:,} labels",
            f"{status.updates:,} updates, label-to-served p99 {_ms(served)}",
        )
        table.add_row(
            "promotions",
            f"{status.promotions:,}",
            f"{status.refusals:,} refused; champion v{status.champion_version}, "
            f"window PR-AUC {_number(status.champion_metrics.pr_auc)}",
        )
    table.add_row("scorer model", now.scorer_version, "")
    return table
