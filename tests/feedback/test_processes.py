"""The feedback service as a real process: durability, exclusivity, auth, restarts, Kafka."""

from __future__ import annotations

import json
import queue
import random
import subprocess
import threading
import time
import urllib.request
import uuid

import grpc
import pytest
from confluent_kafka import Consumer

from fraudstream.v1 import alert_pb2, feedback_service_pb2_grpc
from fraudstream.v1 import feedback_service_pb2 as pb

pytestmark = pytest.mark.integration

SERVICE = "fraudstream.v1.FeedbackService"


def _stub(service):
    channel = service.channel()
    return channel, feedback_service_pb2_grpc.FeedbackServiceStub(channel)


def _report(service, alerts):
    channel, stub = _stub(service)
    with channel:
        request = pb.ReportAlertsRequest(alerts=alerts)
        (response,) = stub.ReportAlerts(iter([request]), timeout=10)
    return [ack.status for ack in response.acks]


def _grpcurl(grpcurl, service, method, body, *headers):
    flags = [arg for header in headers for arg in ("-H", header)]
    return subprocess.run(
        [
            grpcurl,
            "-plaintext",
            *flags,
            "-d",
            json.dumps(body),
            service.address,
            f"{SERVICE}/{method}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


def _many_alerts(template, count, prefix):
    rng = random.Random(7)
    alerts = []
    for index in range(count):
        alert = alert_pb2.Alert()
        alert.CopyFrom(template)
        alert.transaction.event_id = alert.score.event_id = f"{prefix}-{index}"
        alert.score.risk = rng.random()
        alerts.append(alert)
    return alerts


def _label(service, metadata, event_id, verdict=alert_pb2.VERDICT_FRAUD):
    channel, stub = _stub(service)
    with channel:
        return stub.SubmitLabel(
            pb.SubmitLabelRequest(event_id=event_id, verdict=verdict), metadata=metadata, timeout=5
        )


def test_alerts_are_stored_once_under_repeats_and_restarts(feedback_process, alerts_with_prefix):
    alerts = alerts_with_prefix("rep")
    service = feedback_process()
    accepted, duplicate = pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_DUPLICATE
    assert _report(service, alerts[:3]) == [accepted] * 3
    assert _report(service, alerts) == [duplicate] * 3 + [accepted] * 2
    assert service.terminate(15) == 0
    service = feedback_process()
    assert _report(service, alerts) == [duplicate] * 5
    channel, stub = _stub(service)
    with channel:
        assert stub.ListAlerts(pb.ListAlertsRequest(), timeout=5).total_size == 5


def test_two_analysts_never_see_the_same_case(feedback_process, alerts_with_prefix, auth):
    service = feedback_process()
    cases = _many_alerts(alerts_with_prefix("x")[0], 30, "two")
    _report(service, cases)
    names = ("alice", "bob")
    seen: dict[str, list[str]] = {name: [] for name in names}
    outboxes: dict[str, queue.Queue[pb.ReviewRequest | None]] = {n: queue.Queue() for n in names}
    acked = []  # one entry per verdict acked, whoever gave it
    lock = threading.Lock()

    def analyst(name):
        def requests():
            yield pb.ReviewRequest(start=pb.ReviewStart(prefetch=2))
            while (request := outboxes[name].get()) is not None:
                yield request

        channel, stub = _stub(service)
        with channel:
            for response in stub.Review(requests(), metadata=auth(name), timeout=30):
                if response.HasField("case_pushed"):
                    seen[name].append(response.case_pushed.event_id)
                    verdict = pb.ReviewVerdict(
                        event_id=response.case_pushed.event_id, verdict=alert_pb2.VERDICT_LEGIT
                    )
                    outboxes[name].put(pb.ReviewRequest(verdict=verdict))
                    continue
                with lock:
                    acked.append(response.verdict_ack.position)
                    if len(acked) == len(cases):  # everything labeled: both sessions end
                        for outbox in outboxes.values():
                            outbox.put(None)

    threads = [threading.Thread(target=analyst, args=(n,), daemon=True) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not set(seen["alice"]) & set(seen["bob"])
    assert sorted(seen["alice"] + seen["bob"]) == sorted(c.transaction.event_id for c in cases)
    assert seen["alice"] and seen["bob"]
    assert sorted(acked) == list(range(1, len(cases) + 1))  # gapless, no verdict twice


def test_no_token_no_label(feedback_process, alerts_with_prefix, grpcurl):
    service = feedback_process()
    _report(service, alerts_with_prefix("auth"))
    body = {"event_id": "auth-0", "verdict": "VERDICT_FRAUD", "note": "emptied account"}
    for headers in [(), ("authorization: Bearer guessed",), ("authorization: tok-alice-7f3a",)]:
        refused = _grpcurl(grpcurl, service, "SubmitLabel", body, *headers)
        assert refused.returncode != 0
        assert "Unauthenticated" in refused.stderr, refused.stderr
    listed = _grpcurl(grpcurl, service, "ListAlerts", {"state": "CASE_STATE_LABELED"})
    assert "Unauthenticated" in listed.stderr  # reading needs a token too
    listed = _grpcurl(
        grpcurl, service, "ListAlerts", {"state": "CASE_STATE_LABELED"}, service.bearer
    )
    assert listed.returncode == 0 and json.loads(listed.stdout or "{}").get("cases") is None

    labeled = _grpcurl(
        grpcurl, service, "SubmitLabel", body, "authorization: Bearer tok-alice-7f3a"
    )
    assert labeled.returncode == 0, labeled.stderr
    assert json.loads(labeled.stdout) == {"position": "1", "outcome": "VERDICT_OUTCOME_ACCEPTED"}
    listed = _grpcurl(
        grpcurl, service, "ListAlerts", {"state": "CASE_STATE_LABELED"}, service.bearer
    )
    (case,) = json.loads(listed.stdout)["cases"]
    assert (case["eventId"], case["verdict"], case["analyst"]) == (
        "auth-0",
        "VERDICT_FRAUD",
        "alice",
    )


def _consume_labels(service, after, count):
    """Open StreamLabels after `after`, read `count` examples, ack them, hang up."""
    channel, stub = _stub(service)
    outbox: queue.Queue[pb.StreamLabelsRequest | None] = queue.Queue()

    def requests():
        yield pb.StreamLabelsRequest(
            start=pb.StreamLabelsStart(consumer="learner", after_position=after)
        )
        while (request := outbox.get()) is not None:
            yield request

    examples = []
    with channel:
        call = stub.StreamLabels(requests(), timeout=20)
        for response in call:
            examples += response.examples
            outbox.put(pb.StreamLabelsRequest(ack=pb.LabelsAck(position=examples[-1].position)))
            if len(examples) >= count:
                break
        outbox.put(None)
        call.cancel()
    return [(e.position, e.event_id) for e in examples]


def test_labels_survive_a_restart_and_a_consumer_resumes_without_loss_or_repeat(
    feedback_process, alerts_with_prefix, auth
):
    service = feedback_process()
    _report(service, alerts_with_prefix("dur"))
    for index in range(3):
        _label(service, auth("alice"), f"dur-{index}")
    first = _consume_labels(service, after=0, count=3)
    assert first == [(1, "dur-0"), (2, "dur-1"), (3, "dur-2")]

    # A follower is attached when the service stops: its stream must end cleanly.
    channel, stub = _stub(service)
    start = pb.StreamLabelsRequest(start=pb.StreamLabelsStart(after_position=3))
    blocking = threading.Event()
    follower = stub.StreamLabels(iter([start]), timeout=20)
    ended: list[object] = []
    reader = threading.Thread(target=lambda: (blocking.set(), ended.append(list(follower))))
    reader.start()
    blocking.wait(5)
    time.sleep(0.3)
    assert service.terminate(15) == 0
    reader.join(timeout=5)
    assert ended == [[]] and follower.code() == grpc.StatusCode.OK
    channel.close()
    assert "feedback stopped" in service.log()

    service = feedback_process()
    assert _label(service, auth("bob"), "dur-1").duplicate  # the first verdict stood
    for index in (3, 4):
        _label(service, auth("bob"), f"dur-{index}")
    resumed = _consume_labels(service, after=first[-1][0], count=2)
    assert resumed == [(4, "dur-3"), (5, "dur-4")]


def _read_topic(bootstrap, topic, keys, timeout=30.0):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: dict[str, list[alert_pb2.LabeledExample]] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and set(found) != keys:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            key = message.key().decode()
            if key in keys:
                found.setdefault(key, []).append(
                    alert_pb2.LabeledExample.FromString(message.value())
                )
    finally:
        consumer.close()
    return found


def test_labels_land_on_fraud_labels_even_when_the_broker_was_down_at_first(
    feedback_process, alerts_with_prefix, auth, kafka_bootstrap
):
    run = f"kafka{uuid.uuid4().hex[:6]}"
    alerts = alerts_with_prefix(run)
    # First run: the broker address is dead. Labeling must not wait for it.
    down = feedback_process(
        env={"FRAUDSTREAM_PUBLISH_LABELS": "true", "FRAUDSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:9"}
    )
    _report(down, alerts)
    started = time.monotonic()
    assert _label(down, auth("alice"), f"{run}-0").position == 1
    assert _label(down, auth("alice"), f"{run}-3", alert_pb2.VERDICT_LEGIT).position == 2
    assert time.monotonic() - started < 2.0
    assert down.terminate(15) == 0
    # Second run: the same log, a live broker. What was never published goes out now.
    up = feedback_process(
        env={"FRAUDSTREAM_PUBLISH_LABELS": "true", "FRAUDSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap}
    )
    _label(up, auth("bob"), f"{run}-1")
    keys = {f"{run}-0", f"{run}-3", f"{run}-1"}
    found = _read_topic(kafka_bootstrap, "fraud.labels", keys)
    assert set(found) == keys, up.log()
    by_key = {key: examples[0] for key, examples in found.items()}
    assert [by_key[k].position for k in (f"{run}-0", f"{run}-3", f"{run}-1")] == [1, 2, 3]
    assert by_key[f"{run}-3"].verdict == alert_pb2.VERDICT_LEGIT
    assert by_key[f"{run}-1"].analyst == "bob"
    assert by_key[f"{run}-0"].features == alerts[0].score.features
    deadline = time.monotonic() + 10
    while "feedback_published_total 3.0" not in _metrics(up):
        assert time.monotonic() < deadline, _metrics(up)
        time.sleep(0.1)
    assert "feedback_published_position 3.0" in _metrics(up)
    assert up.terminate(15) == 0


def _metrics(service):
    url = f"http://127.0.0.1:{service.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()
