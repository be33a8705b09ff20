"""Verdicts are never silently dropped: leases are enforced, repeats and conflicts are named."""

from __future__ import annotations

import grpc
import pytest

from fraudstream.feedback.domain import Verdict, VerdictOutcome
from fraudstream.v1 import alert_pb2
from fraudstream.v1 import feedback_service_pb2 as pb

FRAUD, LEGIT = alert_pb2.VERDICT_FRAUD, alert_pb2.VERDICT_LEGIT


def _report(stub, alerts):
    list(stub.ReportAlerts(iter([pb.ReportAlertsRequest(alerts=alerts)]), timeout=10))


def _label(stub, metadata, event_id, verdict, note=""):
    return stub.SubmitLabel(
        pb.SubmitLabelRequest(event_id=event_id, verdict=verdict, note=note),
        metadata=metadata,
        timeout=5,
    )


def test_a_case_leased_to_another_analyst_cannot_be_labeled_by_submit_label(
    serve_feedback, alerts, auth, request_stream
):
    served = serve_feedback()
    _report(served.stub, alerts[:1])
    alice_requests = request_stream(pb.ReviewRequest(start=pb.ReviewStart()))
    alice = served.stub.Review(iter(alice_requests), metadata=auth("alice"), timeout=10)
    assert next(alice).case_pushed.event_id == "demo-0"
    with pytest.raises(grpc.RpcError) as refused:
        _label(served.stub, auth("bob"), "demo-0", LEGIT)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "leased to alice" in refused.value.details()
    # Alice's verdict is the one that counts.
    alice_requests.send(
        pb.ReviewRequest(verdict=pb.ReviewVerdict(event_id="demo-0", verdict=FRAUD))
    )
    ack = next(alice).verdict_ack
    assert (ack.position, ack.outcome, ack.message) == (1, pb.VERDICT_OUTCOME_ACCEPTED, "")
    alice_requests.close()
    assert list(alice) == []
    assert served.metric("feedback_refused_verdicts_total") == 1
    assert [(v.analyst, v.verdict) for v in served.feedback.store.verdicts_of("demo-0")] == [
        ("alice", Verdict.FRAUD)
    ]


def test_an_answer_says_whether_a_verdict_repeated_or_contradicted_the_label(
    serve_feedback, alerts, auth
):
    served = serve_feedback()
    _report(served.stub, alerts)
    first = _label(served.stub, auth("alice"), "demo-1", FRAUD, note="mule")
    same = _label(served.stub, auth("bob"), "demo-1", FRAUD)
    opposite = _label(served.stub, auth("bob"), "demo-1", LEGIT, note="known payee")
    answers = [(r.position, r.duplicate, r.outcome) for r in (first, same, opposite)]
    assert answers == [
        (1, False, pb.VERDICT_OUTCOME_ACCEPTED),
        (1, True, pb.VERDICT_OUTCOME_DUPLICATE),
        (1, True, pb.VERDICT_OUTCOME_CONFLICT),
    ]
    assert "already labeled fraud by alice" in opposite.message
    assert first.message == same.message == ""
    # Both analysts' opinions are kept for the learner; the label log holds the first only.
    given = served.feedback.store.verdicts_of("demo-1")
    assert [(v.analyst, v.verdict, v.outcome, v.note) for v in given] == [
        ("alice", Verdict.FRAUD, VerdictOutcome.ACCEPTED, "mule"),
        ("bob", Verdict.FRAUD, VerdictOutcome.DUPLICATE, ""),
        ("bob", Verdict.LEGIT, VerdictOutcome.CONFLICT, "known payee"),
    ]
    assert served.feedback.labels.last_position == 1
    assert served.metric("feedback_duplicate_verdicts_total") == 2
    assert served.metric("feedback_conflicting_verdicts_total") == 1


def test_a_review_verdict_on_a_case_labeled_meanwhile_is_acked_as_a_conflict(
    serve_feedback, alerts, auth, request_stream
):
    served = serve_feedback()
    _report(served.stub, alerts[:1])
    requests = request_stream(pb.ReviewRequest(start=pb.ReviewStart()))
    review = served.stub.Review(iter(requests), metadata=auth("alice"), timeout=10)
    assert next(review).case_pushed.event_id == "demo-0"
    _label(served.stub, auth("alice"), "demo-0", FRAUD)  # from another window, say
    requests.send(pb.ReviewRequest(verdict=pb.ReviewVerdict(event_id="demo-0", verdict=LEGIT)))
    ack = next(review).verdict_ack
    assert (ack.event_id, ack.position, ack.outcome) == (
        "demo-0",
        1,
        pb.VERDICT_OUTCOME_CONFLICT,
    )
    assert "already labeled fraud" in ack.message
    requests.close()
    assert list(review) == []
