"""The ingest bridge with a real broker, a real scorer and real processes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from fraudstream.v1 import alert_pb2, score_pb2

pytestmark = pytest.mark.integration
TESTDATA = Path(__file__).parent / "testdata"


def _ids(messages) -> list[str]:
    return [m.key().decode() for m in messages]


def test_every_replayed_event_is_scored_exactly_once(
    start_service, running_scorer, pipeline_topics, kafka_bootstrap, replay, read_topic
):
    n = 3000
    ingest = start_service(
        "ingest",
        *pipeline_topics.ingest_args(kafka_bootstrap, "g-once"),
        "--scorer-addr",
        running_scorer.address,
        "--feedback-addr",
        "",
    )
    ingest.wait_until_serving()
    replayer = replay(pipeline_topics.transactions, n, "once")
    assert replayer.wait(timeout=120) == 0, replayer.stdout.read().decode()

    scored = read_topic(pipeline_topics.scored, lambda ms: len({*_ids(ms)}) >= n, timeout=90)
    ids = _ids(scored)
    assert len(set(ids)) == n, ingest.log()[-3000:]
    assert set(ids) == {f"once-{row}" for row in range(n)}
    score = score_pb2.Score.FromString(scored[0].value())
    assert 0 <= score.risk <= 1 and score.model_version

    alerts = read_topic(pipeline_topics.alerts, lambda ms: False, timeout=3)
    flagged = [
        s
        for s in (score_pb2.Score.FromString(m.value()) for m in scored)
        if s.decision in (score_pb2.DECISION_REVIEW, score_pb2.DECISION_BLOCK)
    ]
    assert len({m.key() for m in alerts}) == len({s.event_id for s in flagged})
    assert ingest.metric("stream_events_in_total") >= n
    assert ingest.metric("ingest_event_latency_seconds_count") >= n


def test_malformed_messages_go_to_the_dead_letter_topic_with_reasons(
    start_service, running_scorer, pipeline_topics, kafka_bootstrap, read_topic
):
    ingest = start_service(
        "ingest",
        *pipeline_topics.ingest_args(kafka_bootstrap, "g-dlq"),
        "--scorer-addr",
        running_scorer.address,
        "--feedback-addr",
        "",
    )
    ingest.wait_until_serving()
    good = {
        "event_id": "ok-1",
        "type": "TRANSACTION_TYPE_PAYMENT",
        "amount": 10.0,
        "name_orig": "C1",
        "name_dest": "M2",
        "old_balance_orig": 100,
        "new_balance_orig": 90,
    }
    bad = [
        (b"\x08\x96\x01garbage\xff\xff", None, "bad_protobuf"),
        (b'{"event_id": "x", "amount": }', "application/json", "bad_json"),
        (
            json.dumps({"amount": 5.0, "type": "TRANSACTION_TYPE_PAYMENT"}).encode(),
            "application/json",
            "missing_event_id",
        ),
        (
            json.dumps({**good, "event_id": "neg-1", "amount": -5.0}).encode(),
            "application/json",
            "invalid_amount",
        ),
        (
            json.dumps(
                {**good, "event_id": "typeless-1", "type": "TRANSACTION_TYPE_UNSPECIFIED"}
            ).encode(),
            "application/json",
            "invalid_type",
        ),
        (b"", None, "empty"),
    ]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for value, content_type, _reason in bad:
        headers = [("content-type", content_type.encode())] if content_type else None
        producer.produce(pipeline_topics.transactions, value, b"k", headers=headers)
    producer.produce(
        pipeline_topics.transactions,
        json.dumps(good).encode(),
        b"k",
        headers=[("content-type", b"application/json")],
    )
    producer.flush(10)

    dead = read_topic(pipeline_topics.dlq, lambda ms: len(ms) >= len(bad), timeout=60)
    reasons = sorted(dict(m.headers())["dlq.reason"].decode() for m in dead)
    assert reasons == sorted(reason for _v, _c, reason in bad)
    for message in dead:
        headers = dict(message.headers())
        assert headers["dlq.message"]
        assert headers["dlq.source.topic"].decode() == pipeline_topics.transactions
        assert int(headers["dlq.source.partition"]) >= 0
        assert int(headers["dlq.source.offset"]) >= 0
    scored = read_topic(pipeline_topics.scored, lambda ms: len(ms) >= 1, timeout=30)
    assert _ids(scored) == ["ok-1"]


def test_killing_the_scorer_mid_replay_loses_nothing(
    start_service, model_bundle, pipeline_topics, kafka_bootstrap, replay, read_topic
):
    n = 6000
    scorer = start_service("scorer", "--models", str(model_bundle), "--learner-addr", "")
    scorer.wait_until_serving()
    ingest = start_service(
        "ingest",
        *pipeline_topics.ingest_args(kafka_bootstrap, "g-kill"),
        "--scorer-addr",
        scorer.address,
        "--feedback-addr",
        "",
        "--reconnect-max-seconds",
        "0.5",
    )
    ingest.wait_until_serving()
    replayer = replay(pipeline_topics.transactions, n, "kill", "--rate", "1500")
    read_topic(pipeline_topics.scored, lambda ms: len(ms) >= 500, timeout=60)
    scorer.process.kill()
    scorer.process.wait(timeout=10)
    time.sleep(1.0)
    restarted = start_service(
        "scorer", "--models", str(model_bundle), "--learner-addr", "", port=scorer.port
    )
    restarted.wait_until_serving()
    assert replayer.wait(timeout=120) == 0

    scored = read_topic(pipeline_topics.scored, lambda ms: len(set(_ids(ms))) >= n, timeout=120)
    assert set(_ids(scored)) == {f"kill-{row}" for row in range(n)}
    assert ingest.metric("ingest_reconnects_total") >= 1


def test_two_bridges_share_the_partitions(
    start_service, running_scorer, pipeline_topics, kafka_bootstrap, replay, read_topic
):
    n = 4000
    args = [
        *pipeline_topics.ingest_args(kafka_bootstrap, "g-two"),
        "--scorer-addr",
        running_scorer.address,
        "--feedback-addr",
        "",
    ]
    # Two live bridges: two identities (one would fence the other).
    first = start_service("ingest", *args, "--instance-name", "a")
    second = start_service("ingest", *args, "--instance-name", "b")
    first.wait_until_serving()
    second.wait_until_serving()
    first.wait_for_log("assigned partitions")
    second.wait_for_log("assigned partitions")
    replayer = replay(pipeline_topics.transactions, n, "two", "--rate", "4000")
    assert replayer.wait(timeout=120) == 0

    scored = read_topic(pipeline_topics.scored, lambda ms: len(set(_ids(ms))) >= n, timeout=90)
    assert set(_ids(scored)) == {f"two-{row}" for row in range(n)}
    shares = [first.metric("stream_events_in_total"), second.metric("stream_events_in_total")]
    assert all(share > 0 for share in shares), shares
    assert sum(shares) >= n


def test_sigterm_drains_and_commits(
    start_service, running_scorer, pipeline_topics, kafka_bootstrap, replay, read_topic
):
    n = 5000
    args = [
        *pipeline_topics.ingest_args(kafka_bootstrap, "g-term"),
        "--scorer-addr",
        running_scorer.address,
        "--feedback-addr",
        "",
    ]
    ingest = start_service("ingest", *args, "--grace-seconds", "10")
    ingest.wait_until_serving()
    replayer = replay(pipeline_topics.transactions, n, "term", "--rate", "2500")
    read_topic(pipeline_topics.scored, lambda ms: len(ms) >= 1000, timeout=60)
    started = time.monotonic()
    assert ingest.terminate(timeout=30) == 0
    stopped_in = time.monotonic() - started
    print(f"SIGTERM under load: stopped in {stopped_in:.1f}s")
    assert stopped_in < 10 + 1.5
    log = ingest.log()
    assert "received SIGTERM" in log and "ingest stopped" in log
    assert log.index("bridge stopped") < log.index("ingest stopped")
    assert "not routed" not in log
    routed_before = len(set(_ids(read_topic(pipeline_topics.scored, lambda ms: False, timeout=3))))

    successor = start_service("ingest", *args)
    successor.wait_until_serving()
    assert replayer.wait(timeout=120) == 0
    scored = read_topic(pipeline_topics.scored, lambda ms: len(set(_ids(ms))) >= n, timeout=90)
    assert set(_ids(scored)) == {f"term-{row}" for row in range(n)}
    # The drain committed what was routed: the successor re-reads at most a partial batch.
    redelivered = len(_ids(scored)) - n
    assert redelivered <= 4 * 512, (routed_before, redelivered)


def test_alerts_reach_the_feedback_service(
    start_service, running_scorer, pipeline_topics, kafka_bootstrap, replay, read_topic, tmp_path
):
    feedback = start_service("feedback", "--data-dir", str(tmp_path / "var"), "--no-publish-labels")
    feedback.wait_until_serving()
    n = 20000  # enough rows to hold a few dozen frauds
    ingest = start_service(
        "ingest",
        *pipeline_topics.ingest_args(kafka_bootstrap, "g-alerts"),
        "--scorer-addr",
        running_scorer.address,
        "--feedback-addr",
        feedback.address,
        "--audit-sample-rate",
        "0.01",
    )
    ingest.wait_until_serving()
    replayer = replay(pipeline_topics.transactions, n, "alerts")
    assert replayer.wait(timeout=120) == 0
    read_topic(pipeline_topics.scored, lambda ms: len(set(_ids(ms))) >= n, timeout=90)
    alerts = read_topic(pipeline_topics.alerts, lambda ms: False, timeout=3)
    assert alerts, "the simulated data holds frauds; some must be flagged"
    alert = alert_pb2.Alert.FromString(alerts[0].value())
    assert alert.kind == alert_pb2.ALERT_KIND_ALERT and alert.transaction.event_id

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        accepted = ingest.metric('ingest_alerts_reported_total{kind="alert",status="accepted"}')
        audits = ingest.metric('ingest_alerts_reported_total{kind="audit",status="accepted"}')
        if accepted >= len({m.key() for m in alerts}) and audits > 0:
            break
        time.sleep(0.5)
    assert accepted == len({m.key() for m in alerts})
    assert audits > 0
