"""gRPC adapter: the feedback service and the learner, called with the analyst's own token."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc

from fraudstream.console.errors import (
    ConsoleError,
    Forbidden,
    ServiceRefused,
    SignInRefused,
    Unavailable,
)
from fraudstream.v1 import (
    alert_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    learner_service_pb2,
    learner_service_pb2_grpc,
)

logger = logging.getLogger(__name__)

# Longest listing the console pages through to find one case (there is no GetCase RPC).
_FIND_PAGE_SIZE = 1000
_FIND_MAX_PAGES = 20
_ROLLBACK = learner_service_pb2.DESCRIPTOR.services_by_name["LearnerService"].methods_by_name.get(
    "Rollback"
)


def _error(exc: grpc.RpcError, service: str) -> ConsoleError:
    code, details = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return SignInRefused(f"the {service} refused the token: {details}")
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return Forbidden(f"the {service} refused: {details}")
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return Unavailable(f"the {service} did not answer ({code.name.lower()}: {details})")
    return ServiceRefused(f"the {service} answered {code.name}: {details}")


@contextmanager
def _calling(service: str) -> Iterator[None]:
    try:
        yield
    except grpc.RpcError as exc:
        raise _error(exc, service) from None


def _metadata(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


@dataclass(frozen=True)
class QueueCounts:
    """Cases by state, as the feedback service counts them."""

    open: int
    leased: int
    labeled: int

    @property
    def total(self) -> int:
        return self.open + self.leased + self.labeled


class ReviewCall:
    """A Review stream: its responses (errors in the console's words) and a way to cancel it."""

    def __init__(self, call: Any) -> None:
        self._call = call

    def __iter__(self) -> Iterator[feedback_service_pb2.ReviewResponse]:
        with _calling("feedback service"):
            yield from self._call

    def cancel(self) -> None:
        self._call.cancel()


class Backend:
    """Every call the console makes. Channels carry no token of their own: each call sends
    the signed-in analyst's, so the services authorize the person, not the console."""

    def __init__(self, feedback: grpc.Channel, learner: grpc.Channel, timeout: float) -> None:
        self._feedback = feedback_service_pb2_grpc.FeedbackServiceStub(feedback)
        self._learner = learner_service_pb2_grpc.LearnerServiceStub(learner)
        self._timeout = timeout

    def check_token(self, token: str) -> None:
        """Raise SignInRefused unless the feedback service takes the token for a listing."""
        self._list(token, alert_pb2.CASE_STATE_OPEN, 1)

    def _list(
        self, token: str, state: int, page_size: int, page_token: str = ""
    ) -> feedback_service_pb2.ListAlertsResponse:
        request = feedback_service_pb2.ListAlertsRequest(
            state=state,  # type: ignore[arg-type]
            page_size=page_size,
            page_token=page_token,
        )
        with _calling("feedback service"):
            return self._feedback.ListAlerts(
                request, metadata=_metadata(token), timeout=self._timeout
            )

    def counts(self, token: str) -> QueueCounts:
        totals = [
            self._list(token, state, 1).total_size
            for state in (
                alert_pb2.CASE_STATE_OPEN,
                alert_pb2.CASE_STATE_LEASED,
                alert_pb2.CASE_STATE_LABELED,
            )
        ]
        return QueueCounts(*totals)

    def cases(self, token: str, state: int, page_size: int) -> list[alert_pb2.Case]:
        """The first page of cases in `state`, highest risk first."""
        return list(self._list(token, state, page_size).cases)

    def find_case(self, token: str, event_id: str) -> alert_pb2.Case | None:
        page_token = ""
        for _ in range(_FIND_MAX_PAGES):
            page = self._list(token, alert_pb2.CASE_STATE_UNSPECIFIED, _FIND_PAGE_SIZE, page_token)
            for case in page.cases:
                if case.event_id == event_id:
                    return case
            if not (page_token := page.next_page_token):
                return None
        return None

    def open_review(self, token: str, requests: Iterator[Any]) -> ReviewCall:
        """Open a Review stream as the token's analyst (no deadline: it lives while they work)."""
        return ReviewCall(self._feedback.Review(requests, metadata=_metadata(token)))

    def learner_status(self, token: str) -> learner_service_pb2.GetLearnerStatusResponse:
        with _calling("learner"):
            return self._learner.GetLearnerStatus(
                learner_service_pb2.GetLearnerStatusRequest(),
                metadata=_metadata(token),
                timeout=self._timeout,
            )

    @property
    def rollback_supported(self) -> bool:
        """Whether this build's contract has LearnerService.Rollback."""
        return _ROLLBACK is not None

    def rollback(self, token: str, to_version: int | None) -> str:
        """Ask the learner to serve an earlier snapshot; its answer, in words."""
        if _ROLLBACK is None:
            raise ServiceRefused("this build's learner contract has no Rollback")
        request_class: Any = getattr(learner_service_pb2, _ROLLBACK.input_type.name)
        request = request_class()
        fields = _ROLLBACK.input_type.fields_by_name
        if to_version is not None and "to_version" in fields:
            request.to_version = to_version
        call = self._learner.Rollback  # type: ignore[attr-defined]
        with _calling("learner"):
            response = call(request, metadata=_metadata(token), timeout=self._timeout)
        return str(response).strip() or "rolled back"
