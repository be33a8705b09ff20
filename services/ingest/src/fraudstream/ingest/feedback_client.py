"""Reports alerts and audit cases to the feedback service over the ReportAlerts stream."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future

import grpc

from fraudstream.ingest.futures import failed, recover, resolved
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.streams import REQUEST_FAULTS, OrderedStream
from fraudstream.v1 import alert_pb2, feedback_service_pb2

logger = logging.getLogger(__name__)

AlertStream = OrderedStream[
    feedback_service_pb2.ReportAlertsRequest, feedback_service_pb2.ReportAlertsResponse
]
_KIND = {alert_pb2.ALERT_KIND_ALERT: "alert", alert_pb2.ALERT_KIND_AUDIT: "audit"}
_STATUS = {
    feedback_service_pb2.ACK_STATUS_ACCEPTED: "accepted",
    feedback_service_pb2.ACK_STATUS_DUPLICATE: "duplicate",
    feedback_service_pb2.ACK_STATUS_REJECTED: "rejected",
}


class FeedbackClient:
    """`report(cases)`: a future done when the feedback service has acked every case."""

    def __init__(self, stream: AlertStream, metrics: IngestMetrics) -> None:
        self._stream = stream
        self._metrics = metrics

    def report(self, cases: Sequence[alert_pb2.Alert]) -> Future[None]:
        request = feedback_service_pb2.ReportAlertsRequest(alerts=cases)
        return recover(
            self._stream.submit(request),
            lambda response: self._acked(cases, response),
            lambda error: self._refused(cases, error),
        )

    def _acked(
        self, cases: Sequence[alert_pb2.Alert], response: feedback_service_pb2.ReportAlertsResponse
    ) -> Future[None]:
        for alert, ack in zip(cases, response.acks, strict=False):
            status = _STATUS.get(ack.status, "unknown")
            self._metrics.alerts_reported.labels(_KIND.get(alert.kind, "unknown"), status).inc()
            if ack.status == feedback_service_pb2.ACK_STATUS_REJECTED:
                logger.warning("feedback rejected alert %s: %s", ack.event_id, ack.message)
        return resolved(None)

    def _refused(self, cases: Sequence[alert_pb2.Alert], error: BaseException) -> Future[None]:
        """A request the service refuses as a whole counts as rejected cases (they are on the
        alerts topic still); sending it again would hold the batch back forever."""
        if not isinstance(error, grpc.RpcError) or error.code() not in REQUEST_FAULTS:
            return failed(error)
        logger.warning(
            "feedback refused %d cases (%s: %s)", len(cases), error.code().name, error.details()
        )
        for alert in cases:
            self._metrics.alerts_reported.labels(_KIND.get(alert.kind, "unknown"), "rejected").inc()
        return resolved(None)
