"""FeedbackService requests and answers as the servicer tests write them."""

from __future__ import annotations

from fraudstream.v1 import alert_pb2
from fraudstream.v1 import feedback_service_pb2 as pb


def report(stub, *batches):
    requests = [pb.ReportAlertsRequest(alerts=batch) for batch in batches]
    responses = stub.ReportAlerts(iter(requests), timeout=10)
    return [[(ack.event_id, ack.status, ack.message) for ack in r.acks] for r in responses]


def submit_label(stub, metadata, event_id, verdict=alert_pb2.VERDICT_FRAUD, note=""):
    return stub.SubmitLabel(
        pb.SubmitLabelRequest(event_id=event_id, verdict=verdict, note=note),
        metadata=metadata,
        timeout=5,
    )


def review_start(analyst="", prefetch=1):
    return pb.ReviewRequest(start=pb.ReviewStart(analyst=analyst, prefetch=prefetch))


def review_verdict(event_id, verdict=alert_pb2.VERDICT_FRAUD):
    return pb.ReviewRequest(verdict=pb.ReviewVerdict(event_id=event_id, verdict=verdict))


def pushed(response):
    assert response.WhichOneof("event") == "case_pushed", response
    return response.case_pushed.event_id
