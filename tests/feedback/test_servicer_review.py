"""Review through build_server(): cases pushed highest risk first, leases held by one analyst
at a time and handed on when they expire, verdicts only on cases pushed."""

from __future__ import annotations

import time

import grpc
import pytest

from fraudstream.v1 import alert_pb2
from fraudstream.v1 import feedback_service_pb2 as pb

from .calls import pushed, report, review_start, review_verdict


def test_review_pushes_highest_risk_first_acks_verdicts_and_skips(
    serve_feedback, alerts, auth, request_stream
):
    served = serve_feedback()
    report(served.stub, alerts)
    requests = request_stream(review_start("alice's laptop"))
    responses = served.stub.Review(iter(requests), metadata=auth("alice"), timeout=10)
    first = next(responses)
    assert pushed(first) == "demo-0"
    assert first.case_pushed.state == alert_pb2.CASE_STATE_LEASED
    assert first.case_pushed.analyst == "alice"
    assert first.case_pushed.lease_expire_time.seconds > time.time()
    assert first.case_pushed.alert.score.reasons[0].code == "orig_emptied"
    requests.send(review_verdict("demo-0"))
    ack = next(responses)
    assert ack.WhichOneof("event") == "verdict_ack"
    assert (ack.verdict_ack.event_id, ack.verdict_ack.position) == ("demo-0", 1)
    assert pushed(next(responses)) == "demo-1"
    requests.send(pb.ReviewRequest(skip=pb.ReviewSkip(event_id="demo-1")))
    assert pushed(next(responses)) == "demo-2"  # a skipped case is not offered again
    requests.close()
    assert list(responses) == []
    # Ending the session gave its lease back: demo-1 and demo-2 are open again.
    open_cases = served.stub.ListAlerts(pb.ListAlertsRequest(state=alert_pb2.CASE_STATE_OPEN))
    assert [c.event_id for c in open_cases.cases] == ["demo-1", "demo-2", "demo-3", "demo-4"]
    assert served.metric("feedback_verdicts_total", {"verdict": "fraud"}) == 1
    assert served.metric("feedback_requests_total", {"rpc": "Review"}) == 3


def test_two_analysts_never_hold_the_same_case(serve_feedback, alerts, auth, request_stream):
    served = serve_feedback()
    report(served.stub, alerts)
    alice_requests = request_stream(review_start(prefetch=2))
    bob_requests = request_stream(review_start(prefetch=2))
    alice = served.stub.Review(iter(alice_requests), metadata=auth("alice"), timeout=10)
    alice_cases = [pushed(next(alice)), pushed(next(alice))]
    bob = served.stub.Review(iter(bob_requests), metadata=auth("bob"), timeout=10)
    bob_cases = [pushed(next(bob)), pushed(next(bob))]
    assert alice_cases == ["demo-0", "demo-1"]
    assert bob_cases == ["demo-2", "demo-3"]
    assert served.metric("feedback_leased_cases") == 4
    # Only demo-4 is left; it goes to whoever frees a slot first: bob.
    bob_requests.send(review_verdict("demo-3", alert_pb2.VERDICT_LEGIT))
    assert next(bob).verdict_ack.event_id == "demo-3"
    assert pushed(next(bob)) == "demo-4"
    alice_requests.close()
    bob_requests.close()
    assert list(alice) == [] and list(bob) == []


def test_an_expired_lease_goes_to_another_analyst(serve_feedback, alerts, auth, request_stream):
    served = serve_feedback(lease_seconds=0.5)
    report(served.stub, alerts[:1])
    alice_requests = request_stream(review_start())
    alice = served.stub.Review(iter(alice_requests), metadata=auth("alice"), timeout=10)
    assert pushed(next(alice)) == "demo-0"
    bob_requests = request_stream(review_start())
    bob = served.stub.Review(iter(bob_requests), metadata=auth("bob"), timeout=10)
    started = time.monotonic()
    assert pushed(next(bob)) == "demo-0"  # once alice's lease ran out
    assert time.monotonic() - started >= 0.3
    assert served.metric("feedback_lease_expiries_total") == 1
    # Alice answers late: the case is bob's now, so her verdict is refused, and says so.
    alice_requests.send(review_verdict("demo-0"))
    late = next(alice).verdict_ack
    assert (late.event_id, late.position, late.outcome) == ("demo-0", 0, pb.VERDICT_OUTCOME_REFUSED)
    assert "leased to bob" in late.message
    bob_requests.send(review_verdict("demo-0", alert_pb2.VERDICT_LEGIT))
    ack = next(bob).verdict_ack
    assert (ack.position, ack.outcome) == (1, pb.VERDICT_OUTCOME_ACCEPTED)
    alice_requests.close()
    bob_requests.close()
    assert served.metric("feedback_refused_verdicts_total") == 1
    assert served.metric("feedback_duplicate_verdicts_total") == 0
    assert [v.analyst for v in served.feedback.store.verdicts_of("demo-0")] == ["bob"]


def test_review_refuses_a_verdict_on_a_case_it_did_not_push(
    serve_feedback, alerts, auth, request_stream
):
    served = serve_feedback()
    report(served.stub, alerts)
    requests = request_stream(review_start(), review_verdict("demo-4"))
    with pytest.raises(grpc.RpcError) as refused:
        list(served.stub.Review(iter(requests), metadata=auth("alice"), timeout=10))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not pushed" in refused.value.details()
    assert served.feedback.labels.last_position == 0
