"""FeedbackService through build_server() on a free port: every RPC, paired and in order."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from fraudstream.v1 import alert_pb2
from fraudstream.v1 import feedback_service_pb2 as pb

from .calls import report, review_start, submit_label


def test_report_alerts_answers_each_request_in_order_and_stores_once(serve_feedback, alerts):
    served = serve_feedback()
    no_score = alert_pb2.Alert(transaction=alerts[4].transaction, kind=alert_pb2.ALERT_KIND_ALERT)
    no_event = alert_pb2.Alert()
    no_event.CopyFrom(alerts[4])
    no_event.transaction.event_id = ""
    answers = report(
        served.stub,
        alerts[:3],
        [alerts[1], no_score, alerts[3], alerts[3], no_event],
        alerts[:3],
    )
    accepted, duplicate, rejected = (
        pb.ACK_STATUS_ACCEPTED,
        pb.ACK_STATUS_DUPLICATE,
        pb.ACK_STATUS_REJECTED,
    )
    assert [[(e, s) for e, s, _ in acks] for acks in answers] == [
        [("demo-0", accepted), ("demo-1", accepted), ("demo-2", accepted)],
        [
            ("demo-1", duplicate),
            ("demo-4", rejected),
            ("demo-3", accepted),
            ("demo-3", duplicate),
            ("", rejected),
        ],
        [("demo-0", duplicate), ("demo-1", duplicate), ("demo-2", duplicate)],
    ]
    assert "no score" in answers[1][1][2]
    assert "no event_id" in answers[1][4][2]
    listed = served.stub.ListAlerts(pb.ListAlertsRequest(), timeout=5)
    assert listed.total_size == 4
    stored = {c.event_id: c for c in listed.cases}
    assert stored["demo-0"].alert == alerts[0]  # the alert exactly as reported, features included
    assert served.metric("feedback_alerts_total", {"kind": "alert", "outcome": "accepted"}) == 3
    assert served.metric("feedback_alerts_total", {"kind": "audit", "outcome": "duplicate"}) == 1
    assert served.metric("feedback_requests_total", {"rpc": "ReportAlerts"}) == 3
    assert served.metric("feedback_queue_depth") == 4


def test_no_token_no_label(serve_feedback, alerts, auth):
    served = serve_feedback()
    report(served.stub, alerts)
    for metadata in [(), (("authorization", "Bearer not-a-token"),), (("authorization", "tok"),)]:
        with pytest.raises(grpc.RpcError) as refused:
            submit_label(served.bare_stub, metadata, "demo-0")
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as refused:
        next(served.bare_stub.Review(iter([review_start()]), timeout=5))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    labeled = served.stub.ListAlerts(
        pb.ListAlertsRequest(state=alert_pb2.CASE_STATE_LABELED), timeout=5
    )
    assert labeled.total_size == 0
    assert served.feedback.labels.last_position == 0
    assert served.metric("feedback_unauthenticated_total", {"rpc": "SubmitLabel"}) == 3
    assert served.metric("feedback_unauthenticated_total", {"rpc": "Review"}) == 1


def test_submit_label_records_the_token_owner_and_the_first_verdict_stands(
    serve_feedback, alerts, auth
):
    served = serve_feedback()
    report(served.stub, alerts)
    first = submit_label(served.stub, auth("alice"), "demo-1", note="mule account")
    second = submit_label(served.stub, auth("bob"), "demo-1", verdict=alert_pb2.VERDICT_LEGIT)
    third = submit_label(served.stub, auth("bob"), "demo-3", verdict=alert_pb2.VERDICT_LEGIT)
    assert (first.position, first.duplicate) == (1, False)
    assert (second.position, second.duplicate) == (1, True)
    assert (third.position, third.duplicate) == (2, False)
    for event_id, verdict, code in [
        ("never-reported", alert_pb2.VERDICT_FRAUD, grpc.StatusCode.NOT_FOUND),
        ("demo-0", alert_pb2.VERDICT_UNSPECIFIED, grpc.StatusCode.INVALID_ARGUMENT),
        ("", alert_pb2.VERDICT_FRAUD, grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.RpcError) as refused:
            submit_label(served.stub, auth("alice"), event_id, verdict=verdict)
        assert refused.value.code() == code
    labeled = served.stub.ListAlerts(
        pb.ListAlertsRequest(state=alert_pb2.CASE_STATE_LABELED), timeout=5
    )
    assert [(c.event_id, c.verdict, c.analyst, c.note) for c in labeled.cases] == [
        ("demo-1", alert_pb2.VERDICT_FRAUD, "alice", "mule account"),
        ("demo-3", alert_pb2.VERDICT_LEGIT, "bob", ""),
    ]
    assert served.metric("feedback_verdicts_total", {"verdict": "fraud"}) == 1
    assert served.metric("feedback_verdicts_total", {"verdict": "legit"}) == 1
    assert served.metric("feedback_duplicate_verdicts_total") == 1


def test_list_alerts_pages_highest_risk_first(serve_feedback, alerts, auth):
    served = serve_feedback()
    report(served.stub, alerts)
    submit_label(served.stub, auth("alice"), "demo-2")
    seen, token, pages = [], "", 0
    while True:
        page = served.stub.ListAlerts(pb.ListAlertsRequest(page_size=2, page_token=token))
        assert page.total_size == 5
        seen += [(c.event_id, c.alert.score.risk) for c in page.cases]
        pages, token = pages + 1, page.next_page_token
        if not token:
            break
    assert pages == 3
    assert [e for e, _ in seen] == [f"demo-{i}" for i in range(5)]
    assert [r for _, r in seen] == sorted((r for _, r in seen), reverse=True)
    open_cases = served.stub.ListAlerts(pb.ListAlertsRequest(state=alert_pb2.CASE_STATE_OPEN))
    assert [c.event_id for c in open_cases.cases] == ["demo-0", "demo-1", "demo-3", "demo-4"]
    first = served.stub.ListAlerts(pb.ListAlertsRequest(page_size=1))
    for bad in [
        pb.ListAlertsRequest(page_token="garbage"),
        pb.ListAlertsRequest(page_token=first.next_page_token, state=alert_pb2.CASE_STATE_OPEN),
        pb.ListAlertsRequest(page_size=-1),
    ]:
        with pytest.raises(grpc.RpcError) as refused:
            served.stub.ListAlerts(bad, timeout=5)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def _stream_labels(stub, requests):
    return stub.StreamLabels(iter(requests), timeout=10)


def test_stream_labels_serves_the_log_from_a_position_then_follows(
    serve_feedback, alerts, auth, request_stream
):
    served = serve_feedback()
    report(served.stub, alerts)
    for event_id in ["demo-0", "demo-1", "demo-2"]:
        submit_label(served.stub, auth("alice"), event_id)
    requests = request_stream(
        pb.StreamLabelsRequest(start=pb.StreamLabelsStart(consumer="learner", after_position=1))
    )
    responses = _stream_labels(served.stub, requests)
    first = next(responses)
    assert [(e.position, e.event_id) for e in first.examples] == [(2, "demo-1"), (3, "demo-2")]
    example = first.examples[0]
    assert example.verdict == alert_pb2.VERDICT_FRAUD and example.analyst == "alice"
    assert example.kind == alert_pb2.ALERT_KIND_ALERT
    assert example.features == alerts[1].score.features
    assert example.score == alerts[1].score and example.transaction == alerts[1].transaction
    assert example.event_time == alerts[1].transaction.event_time
    assert example.label_time.seconds > 0
    threading.Timer(0.2, submit_label, (served.stub, auth("bob"), "demo-3")).start()
    live = next(responses)  # woken by the new label, not by polling
    assert [(e.position, e.event_id, e.analyst) for e in live.examples] == [(4, "demo-3", "bob")]
    requests.send(pb.StreamLabelsRequest(ack=pb.LabelsAck(position=4)))
    labels = {"consumer": "learner"}
    deadline = time.monotonic() + 5
    while served.metric("feedback_label_consumer_acked_position", labels) != 4:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert served.feedback.store.get_cursor("consumer:learner") == 4
    responses.cancel()


@pytest.mark.parametrize(
    ("first", "code"),
    [
        (pb.StreamLabelsRequest(ack=pb.LabelsAck(position=1)), grpc.StatusCode.INVALID_ARGUMENT),
        (
            pb.StreamLabelsRequest(start=pb.StreamLabelsStart(after_position=-1)),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            pb.StreamLabelsRequest(start=pb.StreamLabelsStart(after_position=7)),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
    ],
)
def test_stream_labels_refuses_a_bad_start(serve_feedback, first, code):
    served = serve_feedback()
    with pytest.raises(grpc.RpcError) as refused:
        list(_stream_labels(served.stub, [first]))
    assert refused.value.code() == code


def test_stopping_ends_review_and_label_streams_cleanly(
    serve_feedback, alerts, auth, request_stream
):
    served = serve_feedback()
    review = served.stub.Review(
        iter(request_stream(review_start())), metadata=auth("alice"), timeout=10
    )
    labels = _stream_labels(
        served.stub, request_stream(pb.StreamLabelsRequest(start=pb.StreamLabelsStart()))
    )
    ended: dict[str, list] = {}
    readers = [
        threading.Thread(target=lambda n=name, r=r: ended.__setitem__(n, list(r)))
        for name, r in [("review", review), ("labels", labels)]
    ]
    for reader in readers:
        reader.start()
    time.sleep(0.3)  # both streams are waiting for work
    served.feedback.stop(flush_timeout=1.0)
    for reader in readers:
        reader.join(timeout=5)
    assert ended == {"review": [], "labels": []}
    assert review.code() == grpc.StatusCode.OK and labels.code() == grpc.StatusCode.OK


def test_no_metric_label_carries_an_event_id(serve_feedback, alerts, auth):
    served = serve_feedback()
    report(served.stub, alerts)
    submit_label(served.stub, auth("alice"), "demo-0")
    for family in served.metrics.registry.collect():
        for sample in family.samples:
            assert not any("demo-" in value for value in sample.labels.values()), sample
