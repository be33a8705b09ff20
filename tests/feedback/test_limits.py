"""Bad or oversize alerts are refused one by one; oversize stored alerts never break review."""

from __future__ import annotations

import itertools
import math

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudstream.feedback.domain import AlertKind, AlertRecord
from fraudstream.feedback.limits import (
    MAX_ALERT_BYTES,
    MAX_ALERTS_PER_REQUEST,
    MAX_PAGE_SIZE,
    MAX_REASON_CHARS,
    MAX_REASONS,
    MAX_STRING_CHARS,
)
from fraudstream.feedback.settings import FeedbackSettings
from fraudstream.v1 import alert_pb2, score_pb2
from fraudstream.v1 import feedback_service_pb2 as pb

ACCEPTED, REJECTED = pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_REJECTED


def _report(stub, alerts):
    (response,) = stub.ReportAlerts(iter([pb.ReportAlertsRequest(alerts=alerts)]), timeout=20)
    return list(response.acks)


def _variant(alert: alert_pb2.Alert, event_id: str) -> alert_pb2.Alert:
    copy = alert_pb2.Alert()
    copy.CopyFrom(alert)
    copy.transaction.event_id = copy.score.event_id = event_id
    return copy


def test_risks_and_detector_scores_outside_0_to_1_are_rejected_with_the_reason(
    serve_feedback, alerts
):
    served = serve_feedback()
    bad = {}
    for name, risk in [("inf", math.inf), ("42", 42.0), ("neg", -5.0), ("nan", math.nan)]:
        bad[name] = _variant(alerts[0], f"risk-{name}")
        bad[name].score.risk = risk
    bad["detector"] = _variant(alerts[0], "detector-nan")
    bad["detector"].score.detector_scores.add(
        detector=score_pb2.DETECTOR_CLASSIFIER, score=math.nan
    )
    good = _variant(alerts[0], "good")
    acks = _report(served.stub, [*bad.values(), good])
    assert [(a.event_id, a.status) for a in acks] == [
        ("risk-inf", REJECTED),
        ("risk-42", REJECTED),
        ("risk-neg", REJECTED),
        ("risk-nan", REJECTED),
        ("detector-nan", REJECTED),
        ("good", ACCEPTED),
    ]
    assert "score.risk must be a finite number in 0..1, got inf" in acks[0].message
    assert "got nan" in acks[3].message
    assert "score.detector_scores[0].score" in acks[4].message
    listed = served.stub.ListAlerts(pb.ListAlertsRequest(), timeout=5)
    assert [c.event_id for c in listed.cases] == ["good"]  # no inf at the top of the queue
    assert served.metric("feedback_alerts_total", {"kind": "alert", "outcome": "rejected"}) == 5


def test_oversize_alerts_are_rejected_and_never_echoed_whole(serve_feedback, alerts):
    served = serve_feedback()
    huge = _variant(alerts[0], "huge")
    huge.transaction.name_orig = "C" * 5_000_000
    long_name = _variant(alerts[0], "long-name")
    long_name.transaction.name_dest = "M" * (MAX_STRING_CHARS + 1)
    many_reasons = _variant(alerts[0], "many-reasons")
    for _ in range(MAX_REASONS):  # one reason already
        many_reasons.score.reasons.add(code="x", text="y")
    long_reason = _variant(alerts[0], "long-reason")
    long_reason.score.reasons[0].text = "z" * (MAX_REASON_CHARS + 1)
    long_id = _variant(alerts[0], "e" * 100_000)
    acks = _report(served.stub, [huge, long_name, many_reasons, long_reason, long_id, alerts[1]])
    assert [a.status for a in acks] == [REJECTED] * 5 + [ACCEPTED]
    assert f"at most {MAX_ALERT_BYTES}" in acks[0].message
    assert "transaction.name_dest has 257 characters" in acks[1].message
    assert f"{MAX_REASONS + 1} reasons" in acks[2].message
    assert "score.reasons[0].text" in acks[3].message
    assert acks[4].event_id == "e" * MAX_STRING_CHARS
    assert all(len(a.message) < 300 for a in acks)


def test_a_request_with_too_many_alerts_fails_as_a_whole(serve_feedback, alerts):
    served = serve_feedback()
    too_many = [_variant(alerts[0], f"n-{i}") for i in range(MAX_ALERTS_PER_REQUEST + 1)]
    with pytest.raises(grpc.RpcError) as refused:
        _report(served.stub, too_many)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "several requests" in refused.value.details()


def test_list_alerts_pages_are_capped_so_they_fit_a_default_client(serve_feedback, alerts):
    served = serve_feedback()
    big = []
    for i in range(MAX_PAGE_SIZE + 20):
        alert = _variant(alerts[0], f"big-{i:03d}")
        alert.score.features.values.extend([0.5] * 1900)  # ~15 KiB, just under the limit
        big.append(alert)
    for start in range(0, len(big), 40):
        assert {a.status for a in _report(served.stub, big[start : start + 40])} == {ACCEPTED}
    page = served.stub.ListAlerts(pb.ListAlertsRequest(page_size=1000), timeout=10)
    assert len(page.cases) == MAX_PAGE_SIZE and page.next_page_token
    rest = served.stub.ListAlerts(
        pb.ListAlertsRequest(page_size=1000, page_token=page.next_page_token), timeout=10
    )
    assert len(rest.cases) == 20 and not rest.next_page_token


def test_an_oversize_alert_stored_before_the_limits_never_breaks_review(
    serve_feedback, alerts, auth, request_stream
):
    served = serve_feedback()
    huge = _variant(alerts[0], "old-huge")
    huge.transaction.name_orig = "C" * 5_000_000
    # As an older version stored it, without checks: at the top of the queue.
    served.feedback.queue.add_alerts(
        [AlertRecord("old-huge", AlertKind.ALERT, 0.99, huge.SerializeToString())]
    )
    _report(served.stub, alerts[1:3])
    listed = served.stub.ListAlerts(pb.ListAlertsRequest(page_size=1000), timeout=5)
    assert [c.event_id for c in listed.cases] == ["old-huge", "demo-1", "demo-2"]
    stand_in = listed.cases[0].alert
    assert stand_in.score.risk == 0.99 and stand_in.score.reasons[0].code == "alert_withheld"
    requests = request_stream(pb.ReviewRequest(start=pb.ReviewStart()))
    review = served.stub.Review(iter(requests), metadata=auth("alice"), timeout=10)
    pushed = next(review).case_pushed
    assert pushed.event_id == "old-huge" and pushed.alert.transaction.event_id == "old-huge"
    requests.send(
        pb.ReviewRequest(
            verdict=pb.ReviewVerdict(event_id="old-huge", verdict=alert_pb2.VERDICT_LEGIT)
        )
    )
    assert next(review).verdict_ack.outcome == pb.VERDICT_OUTCOME_ACCEPTED
    requests.close()
    assert [r.case_pushed.event_id for r in review] == ["demo-1"]


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        (pb.SubmitLabelRequest(event_id="x" * 1000, verdict=1), "event_id has 1000 characters"),
        (pb.SubmitLabelRequest(event_id="demo-0", verdict=1, note="n" * 10_000), "note has"),
        (pb.SubmitLabelRequest(event_id="demo-0", verdict=7), "VERDICT_FRAUD or VERDICT_LEGIT"),
    ],
)
def test_unary_calls_with_bad_arguments_say_what_is_wrong(
    serve_feedback, alerts, auth, request_, fragment
):
    served = serve_feedback()
    _report(served.stub, alerts)
    with pytest.raises(grpc.RpcError) as refused:
        served.stub.SubmitLabel(request_, metadata=auth("alice"), timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in refused.value.details()
    for listing, hint in [
        (pb.ListAlertsRequest(page_token="t" * 5000), "page_token"),
        (pb.ListAlertsRequest(state=9), "CASE_STATE_OPEN"),
    ]:
        with pytest.raises(grpc.RpcError) as refused:
            served.stub.ListAlerts(listing, timeout=5)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert hint in refused.value.details()


_ANY_FLOAT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0.0, max_value=1.0),
    st.sampled_from([0.0, 1.0, -0.0, math.nextafter(1.0, 2.0), math.inf, -math.inf, math.nan]),
)
# The feedback service's default --max-message-bytes (FeedbackSettings.max_message_bytes).
MAX_MESSAGE_BYTES = FeedbackSettings.model_fields["max_message_bytes"].default
_SIZES = st.one_of(
    st.integers(0, 40),
    st.sampled_from([MAX_STRING_CHARS, MAX_STRING_CHARS + 1, 20_000, 2_000_000]),
)
_ALERT_VALUES = st.fixed_dictionaries(
    {
        "risk": _ANY_FLOAT,
        "detector": _ANY_FLOAT,
        "name_size": _SIZES,
        "reasons": st.integers(0, MAX_REASONS + 3),
        "reason_size": st.sampled_from([5, MAX_REASON_CHARS, MAX_REASON_CHARS + 1]),
    }
)


def _should_pass(values: dict, size: int) -> bool:
    in_unit = all(0.0 <= values[k] <= 1.0 for k in ("risk", "detector"))
    return (
        in_unit
        and values["name_size"] <= MAX_STRING_CHARS
        and values["reasons"] <= MAX_REASONS
        and (values["reasons"] == 0 or values["reason_size"] <= MAX_REASON_CHARS)
        and size <= MAX_ALERT_BYTES
    )


def test_report_alerts_rejects_exactly_the_bad_alerts_of_any_request(serve_feedback, alerts):
    served = serve_feedback()
    numbers = itertools.count()

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(_ALERT_VALUES, min_size=1, max_size=6))
    def check(batch: list[dict]) -> None:
        request = []
        for values in batch:
            alert = _variant(alerts[1], f"h-{next(numbers)}")
            alert.score.risk = values["risk"]
            alert.score.detector_scores.add(
                detector=score_pb2.DETECTOR_AUTOENCODER, score=values["detector"]
            )
            alert.transaction.name_orig = "C" * values["name_size"]
            del alert.score.reasons[:]  # exactly the generated ones
            for _ in range(values["reasons"]):
                alert.score.reasons.add(code="r", text="t" * values["reason_size"])
            request.append(alert)
        if pb.ReportAlertsRequest(alerts=request).ByteSize() > MAX_MESSAGE_BYTES:
            # Larger than the server reads: the whole request is refused, nothing stored.
            with pytest.raises(grpc.RpcError) as refused:
                _report(served.stub, request)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            return
        acks = _report(served.stub, request)
        assert [a.event_id for a in acks] == [a.transaction.event_id for a in request]
        for values, alert, ack in zip(batch, request, acks, strict=True):
            if _should_pass(values, alert.ByteSize()):
                assert ack.status == ACCEPTED, (values, ack.message)
            else:
                assert ack.status == REJECTED, values
                assert ack.message.startswith("alert h-"), ack.message

    check()
