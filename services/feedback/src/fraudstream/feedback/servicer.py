"""gRPC adapter of the feedback service: translates between protobuf and the domain core."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc

from fraudstream.common.auth import Authenticator, principal_name
from fraudstream.common.errors import InvalidArgument
from fraudstream.feedback import convert
from fraudstream.feedback.core import FeedbackCore
from fraudstream.feedback.labels import LabelStream
from fraudstream.feedback.limits import (
    MAX_ALERTS_PER_REQUEST,
    MAX_NOTE_CHARS,
    MAX_STRING_CHARS,
    check_text,
)
from fraudstream.feedback.review_session import (
    CasePushed,
    ReviewSession,
    VerdictAcked,
    verdict_message,
)
from fraudstream.v1 import feedback_service_pb2 as pb
from fraudstream.v1 import feedback_service_pb2_grpc

Request = TypeVar("Request")
Action = TypeVar("Action")


class FeedbackServiceServicer(feedback_service_pb2_grpc.FeedbackServiceServicer):
    """FeedbackService over the Feedback core."""

    def __init__(self, feedback: FeedbackCore, authenticator: Authenticator) -> None:
        self._feedback = feedback
        self._metrics = feedback.metrics
        self._authenticator = authenticator

    def _analyst(self, context: grpc.ServicerContext) -> str:
        """Who labels: the caller the server's policy already admitted (its token's owner)."""
        return principal_name(context, self._authenticator)

    def ReportAlerts(
        self, request_iterator: Iterator[pb.ReportAlertsRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.ReportAlertsResponse]:
        for request in request_iterator:
            self._metrics.requests.labels("ReportAlerts").inc()
            yield pb.ReportAlertsResponse(acks=self._store_alerts(request))

    def _store_alerts(self, request: pb.ReportAlertsRequest) -> list[pb.AlertAck]:
        if len(request.alerts) > MAX_ALERTS_PER_REQUEST:
            raise InvalidArgument(
                f"a ReportAlerts request holds {len(request.alerts)} alerts, at most"
                f" {MAX_ALERTS_PER_REQUEST}: send them in several requests"
            )
        acks: list[pb.AlertAck] = []
        valid = []
        for alert in request.alerts:
            try:
                valid.append((len(acks), convert.alert_record(alert)))
                acks.append(pb.AlertAck(event_id=alert.transaction.event_id))
            except InvalidArgument as exc:
                self._metrics.alerts.labels(convert.kind_name(alert), "rejected").inc()
                acks.append(
                    pb.AlertAck(
                        # An oversize event_id is echoed cut: acks pair with alerts by order.
                        event_id=alert.transaction.event_id[:MAX_STRING_CHARS],
                        status=pb.ACK_STATUS_REJECTED,
                        message=str(exc),
                    )
                )
        stored = self._feedback.queue.add_alerts([record for _, record in valid])
        for (index, _), new in zip(valid, stored, strict=True):
            acks[index].status = pb.ACK_STATUS_ACCEPTED if new else pb.ACK_STATUS_DUPLICATE
        return acks

    def Review(
        self, request_iterator: Iterator[pb.ReviewRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.ReviewResponse]:
        session = ReviewSession(self._feedback.queue, self._analyst(context))
        context.add_callback(session.close)
        # Answer at once (after the token was checked): the analyst is connected from here.
        context.send_initial_metadata(())
        actions = (self._counted("Review", convert.review_action, r) for r in request_iterator)
        for event in session.run(actions):
            if isinstance(event, CasePushed):
                yield pb.ReviewResponse(case_pushed=convert.case(event.case))
            elif isinstance(event, VerdictAcked):
                yield pb.ReviewResponse(
                    verdict_ack=pb.VerdictAck(
                        event_id=event.event_id,
                        position=event.position,
                        outcome=convert.verdict_outcome(event.outcome),
                        message=event.message,
                    )
                )

    def SubmitLabel(
        self, request: pb.SubmitLabelRequest, context: grpc.ServicerContext
    ) -> pb.SubmitLabelResponse:
        self._metrics.requests.labels("SubmitLabel").inc()
        analyst = self._analyst(context)
        if not request.event_id:
            raise InvalidArgument("event_id is required")
        check_text("event_id", request.event_id, MAX_STRING_CHARS)
        check_text("note", request.note, MAX_NOTE_CHARS)
        recorded = self._feedback.labels.record(
            request.event_id, convert.verdict(request.verdict), analyst, request.note
        )
        return pb.SubmitLabelResponse(
            position=recorded.position,
            duplicate=recorded.duplicate,
            outcome=convert.verdict_outcome(recorded.outcome),
            message=verdict_message(recorded),
        )

    def ListAlerts(
        self, request: pb.ListAlertsRequest, context: grpc.ServicerContext
    ) -> pb.ListAlertsResponse:
        self._metrics.requests.labels("ListAlerts").inc()
        page = self._feedback.queue.list_cases(
            convert.state_filter(request.state), request.page_size, request.page_token
        )
        return pb.ListAlertsResponse(
            cases=[convert.case(found) for found in page.cases],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    def StreamLabels(
        self, request_iterator: Iterator[pb.StreamLabelsRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.StreamLabelsResponse]:
        stream = LabelStream(
            self._feedback.labels,
            self._feedback.store,
            self._metrics,
            batch_wait=self._feedback.label_batch_wait,
        )
        context.add_callback(stream.close)
        # Answer at once: the consumer counts itself connected on it, not on the first label.
        context.send_initial_metadata(())
        actions = (
            self._counted("StreamLabels", convert.labels_action, r) for r in request_iterator
        )
        for batch in stream.run(actions):
            yield pb.StreamLabelsResponse(
                examples=[convert.labeled_example(label) for label in batch]
            )

    def _counted(
        self, rpc: str, translate: Callable[[Request], Action], request: Request
    ) -> Action:
        self._metrics.requests.labels(rpc).inc()
        return translate(request)
