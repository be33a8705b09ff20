"""Translation between fraudstream.v1 protobuf messages and the feedback domain types."""

from __future__ import annotations

import math

from google.protobuf.timestamp_pb2 import Timestamp

from fraudstream.common.errors import InvalidArgument
from fraudstream.feedback.domain import (
    AlertKind,
    AlertRecord,
    Case,
    CaseState,
    Label,
    Verdict,
    VerdictOutcome,
)
from fraudstream.feedback.labels import AckLabels, LabelsAction, StartLabels
from fraudstream.feedback.limits import (
    MAX_ALERT_BYTES,
    MAX_CLIENT_NAME_CHARS,
    MAX_NOTE_CHARS,
    MAX_STRING_CHARS,
    check_alert,
    check_text,
    short,
)
from fraudstream.feedback.review_session import CaseSkipped, ReviewAction, StartReview, VerdictGiven
from fraudstream.v1 import alert_pb2, feedback_service_pb2

_KIND = {
    alert_pb2.ALERT_KIND_ALERT: AlertKind.ALERT,
    alert_pb2.ALERT_KIND_AUDIT: AlertKind.AUDIT,
}
_KIND_PB = {kind: pb for pb, kind in _KIND.items()}
_VERDICT = {alert_pb2.VERDICT_FRAUD: Verdict.FRAUD, alert_pb2.VERDICT_LEGIT: Verdict.LEGIT}
_VERDICT_PB = {verdict: pb for pb, verdict in _VERDICT.items()}
_STATE = {
    alert_pb2.CASE_STATE_OPEN: CaseState.OPEN,
    alert_pb2.CASE_STATE_LEASED: CaseState.LEASED,
    alert_pb2.CASE_STATE_LABELED: CaseState.LABELED,
}
_STATE_PB = {state: pb for pb, state in _STATE.items()}


def kind_name(alert: alert_pb2.Alert) -> str:
    """The metric label of an alert's kind, whatever was sent."""
    kind = _KIND.get(alert.kind)
    return kind.value if kind else "unspecified"


def alert_record(alert: alert_pb2.Alert) -> AlertRecord:
    """The storable form of a reported alert; InvalidArgument says what is missing or wrong."""
    if not alert.HasField("transaction"):
        raise InvalidArgument("alert has no transaction")
    event_id = alert.transaction.event_id
    if not event_id:
        raise InvalidArgument("alert's transaction has no event_id")
    payload = alert.SerializeToString()
    try:
        check_alert(alert, len(payload))
    except InvalidArgument as exc:
        raise InvalidArgument(f"alert {short(event_id)}: {exc}") from None
    if not alert.HasField("score"):
        raise InvalidArgument(f"alert {event_id} has no score")
    if alert.score.HasField("error"):
        raise InvalidArgument(f"alert {event_id} carries a scoring error, not a score")
    if alert.score.event_id and alert.score.event_id != event_id:
        raise InvalidArgument(
            f"alert {event_id} has the score of another event ({alert.score.event_id})"
        )
    kind = _KIND.get(alert.kind)
    if kind is None:
        raise InvalidArgument(f"alert {event_id} has no kind (ALERT_KIND_ALERT or _AUDIT)")
    return AlertRecord(event_id=event_id, kind=kind, risk=alert.score.risk, payload=payload)


def verdict(value: alert_pb2.Verdict.ValueType) -> Verdict:
    found = _VERDICT.get(value)
    if found is None:
        raise InvalidArgument("verdict must be VERDICT_FRAUD or VERDICT_LEGIT")
    return found


_OUTCOME_PB = {
    VerdictOutcome.ACCEPTED: feedback_service_pb2.VERDICT_OUTCOME_ACCEPTED,
    VerdictOutcome.DUPLICATE: feedback_service_pb2.VERDICT_OUTCOME_DUPLICATE,
    VerdictOutcome.CONFLICT: feedback_service_pb2.VERDICT_OUTCOME_CONFLICT,
}


def verdict_outcome(
    outcome: VerdictOutcome | None,
) -> feedback_service_pb2.VerdictOutcome.ValueType:
    """The contract's outcome of a recorded verdict; None (not recorded) is REFUSED."""
    if outcome is None:
        return feedback_service_pb2.VERDICT_OUTCOME_REFUSED
    return _OUTCOME_PB[outcome]


def state_filter(value: alert_pb2.CaseState.ValueType) -> CaseState | None:
    if value == alert_pb2.CASE_STATE_UNSPECIFIED:
        return None
    found = _STATE.get(value)
    if found is None:
        raise InvalidArgument(
            f"state {value} is not a case state: use CASE_STATE_OPEN, CASE_STATE_LEASED,"
            " CASE_STATE_LABELED, or CASE_STATE_UNSPECIFIED for all"
        )
    return found


def _timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(round(seconds * 1e9))
    return stamp


def _shown_alert(found: Case) -> alert_pb2.Alert:
    """The stored alert, or a stand-in with its identity and risk when it is over the limit.

    Alerts stored before the limits existed may be megabytes: sent whole they
    would break ListAlerts pages and Review pushes for every client.
    """
    if len(found.payload) <= MAX_ALERT_BYTES:
        return alert_pb2.Alert.FromString(found.payload)
    stand_in = alert_pb2.Alert(kind=_KIND_PB[found.kind])
    stand_in.transaction.event_id = stand_in.score.event_id = found.event_id
    stand_in.score.risk = found.risk if math.isfinite(found.risk) else 1.0
    stand_in.score.reasons.add(
        code="alert_withheld",
        text=f"the reported alert is {len(found.payload)} bytes, over the {MAX_ALERT_BYTES}"
        " byte limit; only its identity and risk are shown",
    )
    return stand_in


def case(found: Case) -> alert_pb2.Case:
    message = alert_pb2.Case(
        event_id=found.event_id,
        alert=_shown_alert(found),
        state=_STATE_PB[found.state],
        analyst=found.analyst,
        note=found.note,
    )
    if found.verdict is not None:
        message.verdict = _VERDICT_PB[found.verdict]
    if found.state is CaseState.LEASED and found.lease_expires is not None:
        message.lease_expire_time.CopyFrom(_timestamp(found.lease_expires))
    return message


def labeled_example(label: Label) -> alert_pb2.LabeledExample:
    """A log entry joined with what was served: features, score and transaction."""
    alert = alert_pb2.Alert.FromString(label.payload)
    example = alert_pb2.LabeledExample(
        position=label.position,
        event_id=label.event_id,
        verdict=_VERDICT_PB[label.verdict],
        kind=_KIND_PB[label.kind],
        analyst=label.analyst,
        label_time=_timestamp(label.label_time),
        score=alert.score,
        transaction=alert.transaction,
        selection_probability=alert.selection_probability,
    )
    if alert.score.HasField("features"):
        example.features.CopyFrom(alert.score.features)
    if alert.transaction.HasField("event_time"):
        example.event_time.CopyFrom(alert.transaction.event_time)
    return example


def encode_label(label: Label) -> bytes:
    """The Kafka value of a label on fraud.labels: a serialized LabeledExample."""
    return labeled_example(label).SerializeToString()


def review_action(request: feedback_service_pb2.ReviewRequest) -> ReviewAction:
    which = request.WhichOneof("action")
    if which == "start":
        check_text("start.analyst", request.start.analyst, MAX_CLIENT_NAME_CHARS)
        return StartReview(analyst=request.start.analyst, prefetch=request.start.prefetch)
    if which == "verdict":
        check_text("verdict.event_id", request.verdict.event_id, MAX_STRING_CHARS)
        check_text("verdict.note", request.verdict.note, MAX_NOTE_CHARS)
        return VerdictGiven(
            event_id=request.verdict.event_id,
            verdict=verdict(request.verdict.verdict),
            note=request.verdict.note,
        )
    if which == "skip":
        check_text("skip.event_id", request.skip.event_id, MAX_STRING_CHARS)
        return CaseSkipped(event_id=request.skip.event_id)
    raise InvalidArgument("a Review message must set start, verdict or skip")


def labels_action(request: feedback_service_pb2.StreamLabelsRequest) -> LabelsAction:
    which = request.WhichOneof("action")
    if which == "start":
        # The consumer name becomes a metric label and a cursor key.
        check_text("start.consumer", request.start.consumer, MAX_CLIENT_NAME_CHARS)
        return StartLabels(
            consumer=request.start.consumer, after_position=request.start.after_position
        )
    if which == "ack":
        return AckLabels(position=request.ack.position)
    raise InvalidArgument("a StreamLabels message must set start or ack")
