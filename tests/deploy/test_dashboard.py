"""Every query of the Grafana dashboard returns data from a real Prometheus and a real pipeline.

Broker, scorer, ingest, feedback and learner run as processes; replay feeds transactions,
simulated analysts label the alerts, and the learner's thresholds are lowered so a promotion
reaches the scorer within the test. Prometheus (Debian's binary) scrapes every second and
loads the repository's rules, which must evaluate without errors on the real series.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from fraudstream.v1 import score_pb2

pytestmark = pytest.mark.integration

logger = logging.getLogger(__name__)

DASHBOARD = (
    Path(__file__).resolve().parents[2]
    / "deploy"
    / "grafana"
    / "dashboards"
    / "realtime-fraud-overview.json"
)
TOKEN = "tok-dashboard-3f9"
SCRAPE_SECONDS = 1
# Grafana's $__rate_interval: max($__interval + scrape interval, 4 x scrape interval).
GRAFANA_VARIABLES = {"$__rate_interval": f"{4 * SCRAPE_SECONDS}s", "$__interval": "1s"}
REPLAY_RATE = 400
# Legitimate rows kept from the session's PaySim file, besides every fraud: a few thousand rows
# that flag enough alerts and FRAUD labels for a promotion.
LEGIT_EVERY = 25
# Targets that must show activity (a value above zero) during the run, not only a series.
ACTIVE = {
    ("Throughput in and out", "in: transactions"),
    ("Decisions", "{{decision}}"),
    ("Anomaly rate", "anomaly rate"),
    ("Dead letters by reason (since the bridges started)", "{{reason}}"),
    ("Online updates and promotions", "online updates /min"),
    ("Online updates and promotions", "promotions /min"),
    ("Labels by verdict", "{{verdict}} /min"),
    ("Prequential PR-AUC", "{{model}}"),
    ("Model version per scorer", "scorer {{instance}}"),
    ("Label to served p99", "p99"),
    ("Alert rate: champion vs challenger", "{{model}}"),
    ("Champion risk distribution", "{{le}}"),
    ("Risk PSI per scorer", "scorer {{instance}}"),
    ("Challenger in the shadow", "challenger version {{instance}}"),
    ("Collector pauses p99 by service", "{{job}}"),
}


def panel_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(panel title, legend, expr with Grafana's variables substituted) of every target."""
    panels = [p for top in dashboard["panels"] for p in (top, *top.get("panels", []))]
    for panel in panels:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(name, value)
            assert "$" not in expr, f"unsubstituted variable in {panel['title']}: {expr}"
            yield panel["title"], target.get("legendFormat", ""), expr


def _fraudstream(*args: str) -> list[str]:
    return [sys.executable, "-m", "fraudstream.cli.main", *args]


def _fraud_rich_sample(paysim: Path, out: Path) -> int:
    """Every fraud row and every LEGIT_EVERY-th other row of `paysim`, in order; returns rows."""
    with paysim.open() as source, out.open("w") as sample:
        header = source.readline()
        fraud_column = header.strip().split(",").index("isFraud")
        sample.write(header)
        kept = 0
        for row, line in enumerate(source):
            if line.split(",")[fraud_column] == "1" or row % LEGIT_EVERY == 0:
                sample.write(line)
                kept += 1
    return kept


def _send_dead_letters(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in (b"\x08\x96\x01garbage\xff\xff", b"", b'{"amount": }'):
        producer.produce(topic, value, b"dlq-test")
    producer.flush(10)


def _scored_with_challenger(bootstrap: str, topic: str) -> tuple[int, int]:
    """(Scores read from `topic`, those that carry a challenger's shadow score)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"shadow-check-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    read = shadowed = 0
    idle_until = time.monotonic() + 10
    try:
        while time.monotonic() < idle_until:
            for message in consumer.consume(500, timeout=1):
                if message.error():
                    continue
                score = score_pb2.Score.FromString(message.value())
                read += 1
                shadowed += bool(score.challenger_version)
                idle_until = time.monotonic() + 3
    finally:
        consumer.close()
    return read, shadowed


def _background(stack: ExitStack, command: list[str], log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    stack.callback(stop)
    return process


def _scalar(prometheus, query: str) -> float:
    result = prometheus.api("query", query=query)["result"]
    return float(result[0]["value"][1]) if result else math.nan


def test_every_dashboard_panel_has_data(
    start_service,
    start_prometheus,
    model_bundle,
    kafka_bootstrap,
    kafka_topic_factory,
    tmp_path,
):
    topics = {
        "transactions": kafka_topic_factory(4),
        "scored": kafka_topic_factory(4),
        "alerts": kafka_topic_factory(1),
        "dlq": kafka_topic_factory(1),
    }
    env = {
        "FRAUDSTREAM_DATA_DIR": str(tmp_path / "var"),
        "FRAUDSTREAM_ANALYST_TOKENS": f"analyst:{TOKEN}",
    }
    sample = tmp_path / "paysim-sample.csv"
    rows = _fraud_rich_sample(model_bundle.parent / "paysim.csv", sample)
    # Started together, waited for together: the processes load their imports in parallel.
    # Labels stay in the feedback log (StreamLabels): the session broker's fraud.labels is shared.
    feedback = start_service("feedback", "--no-publish-labels", env=env, wait=False)
    learner = start_service(
        "learner",
        *("--models", str(model_bundle), "--feedback-addr", feedback.address),
        *("--batch-size", "8", "--min-window-labels", "20", "--min-window-frauds", "2"),
        # The margin rule with lowered minimums: a promotion within the run (the evidence
        # rule, the default, waits for 200 labels and a shown gain).
        *("--promotion-rule", "margin", "--promotion-margin", "1.0"),
        *("--feedback-retry-seconds", "0.1"),
        env=env,
        wait=False,
    )
    scorer = start_service(
        "scorer",
        *("--models", str(model_bundle), "--learner-addr", learner.address),
        # A PSI window the run fills more than twice (reference, then recent windows).
        *("--psi-window", "500"),
        env=env,
        wait=False,
    )
    ingest = start_service(
        "ingest",
        *("--kafka-bootstrap", kafka_bootstrap, "--group-id", f"dashboard-{uuid.uuid4().hex}"),
        *("--transactions-topic", topics["transactions"], "--scored-topic", topics["scored"]),
        *("--alerts-topic", topics["alerts"], "--dlq-topic", topics["dlq"]),
        *("--scorer-addr", scorer.address, "--feedback-addr", feedback.address),
        *("--audit-sample-rate", "0.01"),
        wait=False,
    )
    services = {"ingest": ingest, "scorer": scorer, "feedback": feedback, "learner": learner}
    prometheus = start_prometheus(
        {job: f"127.0.0.1:{s.metrics_port}" for job, s in services.items()}, SCRAPE_SECONDS
    )
    started = time.time()

    with ExitStack() as stack:
        _background(
            stack,
            _fraudstream(
                *("review", "--simulate", "--truth", str(sample), "--token", TOKEN),
                *("--addr", feedback.address, "--analysts", "2", "--delay", "0.02"),
            ),
            tmp_path / "analysts.log",
        )
        for service in services.values():
            service.wait_until_listening(timeout=60)
            service.wait_until_serving(timeout=60)
        replay = _background(
            stack,
            _fraudstream(
                *("replay", "--input", str(sample), "--bootstrap", kafka_bootstrap),
                *("--topic", topics["transactions"], "--rate", str(REPLAY_RATE)),
                *("--run-id", "dashboard"),
            ),
            tmp_path / "replay.log",
        )
        _send_dead_letters(kafka_bootstrap, topics["transactions"])
        assert replay.wait(timeout=120) == 0, (tmp_path / "replay.log").read_text()

        deadline = time.monotonic() + 90
        while _scalar(prometheus, "min(scorer_model_snapshot_version)") < 1:
            assert time.monotonic() < deadline, (
                "no promotion reached the scorer\n" + learner.log()[-3000:]
            )
            time.sleep(1)
    # A few more scrapes so that every rate window holds the end of the run.
    time.sleep(3 * SCRAPE_SECONDS)
    ended = time.time()

    assert _scalar(prometheus, "sum(stream_events_in_total)") >= rows
    assert _scalar(prometheus, 'count(up{job=~"ingest|scorer|feedback|learner"} == 1)') == 4
    # The challenger was scored in the shadow, beside the champion, on the same transactions,
    # and its scores reached transactions.scored inside the served Scores.
    assert _scalar(prometheus, 'sum(scorer_model_decisions_total{model="challenger"})') > 0
    read, shadowed = _scored_with_challenger(kafka_bootstrap, topics["scored"])
    logger.info("transactions.scored: %d scores, %d with a challenger's", read, shadowed)
    assert read >= rows and shadowed > 0

    dashboard = json.loads(DASHBOARD.read_text())
    checked: list[str] = []
    empty: list[str] = []
    idle: list[str] = []
    for title, legend, expr in panel_queries(dashboard):
        result = prometheus.api(
            "query_range", query=expr, start=str(started), end=str(ended), step="1"
        )["result"]
        values = [float(value) for series in result for _, value in series["values"]]
        finite = [v for v in values if math.isfinite(v)]
        (checked if finite else empty).append(f"{title} [{legend}]: {expr}")
        if (title, legend) in ACTIVE and not any(v > 0 for v in finite):
            idle.append(f"{title} [{legend}]: {expr}")
    logger.info("panel queries with data:\n%s", "\n".join(checked))
    assert not empty, "panel queries without data:\n" + "\n".join(empty)
    assert not idle, "panel queries that never rose above zero:\n" + "\n".join(idle)
    assert len(checked) >= 20
    titles = {title for title, _legend, _expr in panel_queries(dashboard)}
    assert {title for title, _legend in ACTIVE} <= titles

    unhealthy = [
        f"{rule['name']}: {rule.get('lastError')}"
        for group in prometheus.api("rules")["groups"]
        for rule in group["rules"]
        if rule["health"] != "ok"
    ]
    assert not unhealthy, unhealthy
