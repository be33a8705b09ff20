from fraudstream.v1 import alert_pb2 as _alert_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AckStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACK_STATUS_UNSPECIFIED: _ClassVar[AckStatus]
    ACK_STATUS_ACCEPTED: _ClassVar[AckStatus]
    ACK_STATUS_DUPLICATE: _ClassVar[AckStatus]
    ACK_STATUS_REJECTED: _ClassVar[AckStatus]
ACK_STATUS_UNSPECIFIED: AckStatus
ACK_STATUS_ACCEPTED: AckStatus
ACK_STATUS_DUPLICATE: AckStatus
ACK_STATUS_REJECTED: AckStatus

class ReportAlertsRequest(_message.Message):
    __slots__ = ("alerts",)
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[_alert_pb2.Alert]
    def __init__(self, alerts: _Optional[_Iterable[_Union[_alert_pb2.Alert, _Mapping]]] = ...) -> None: ...

class AlertAck(_message.Message):
    __slots__ = ("event_id", "status", "message")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    status: AckStatus
    message: str
    def __init__(self, event_id: _Optional[str] = ..., status: _Optional[_Union[AckStatus, str]] = ..., message: _Optional[str] = ...) -> None: ...

class ReportAlertsResponse(_message.Message):
    __slots__ = ("acks",)
    ACKS_FIELD_NUMBER: _ClassVar[int]
    acks: _containers.RepeatedCompositeFieldContainer[AlertAck]
    def __init__(self, acks: _Optional[_Iterable[_Union[AlertAck, _Mapping]]] = ...) -> None: ...

class ReviewStart(_message.Message):
    __slots__ = ("analyst", "prefetch")
    ANALYST_FIELD_NUMBER: _ClassVar[int]
    PREFETCH_FIELD_NUMBER: _ClassVar[int]
    analyst: str
    prefetch: int
    def __init__(self, analyst: _Optional[str] = ..., prefetch: _Optional[int] = ...) -> None: ...

class ReviewVerdict(_message.Message):
    __slots__ = ("event_id", "verdict", "note")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    verdict: _alert_pb2.Verdict
    note: str
    def __init__(self, event_id: _Optional[str] = ..., verdict: _Optional[_Union[_alert_pb2.Verdict, str]] = ..., note: _Optional[str] = ...) -> None: ...

class ReviewSkip(_message.Message):
    __slots__ = ("event_id",)
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    def __init__(self, event_id: _Optional[str] = ...) -> None: ...

class ReviewRequest(_message.Message):
    __slots__ = ("start", "verdict", "skip")
    START_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    start: ReviewStart
    verdict: ReviewVerdict
    skip: ReviewSkip
    def __init__(self, start: _Optional[_Union[ReviewStart, _Mapping]] = ..., verdict: _Optional[_Union[ReviewVerdict, _Mapping]] = ..., skip: _Optional[_Union[ReviewSkip, _Mapping]] = ...) -> None: ...

class VerdictAck(_message.Message):
    __slots__ = ("event_id", "position")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    position: int
    def __init__(self, event_id: _Optional[str] = ..., position: _Optional[int] = ...) -> None: ...

class ReviewResponse(_message.Message):
    __slots__ = ("case_pushed", "verdict_ack")
    CASE_PUSHED_FIELD_NUMBER: _ClassVar[int]
    VERDICT_ACK_FIELD_NUMBER: _ClassVar[int]
    case_pushed: _alert_pb2.Case
    verdict_ack: VerdictAck
    def __init__(self, case_pushed: _Optional[_Union[_alert_pb2.Case, _Mapping]] = ..., verdict_ack: _Optional[_Union[VerdictAck, _Mapping]] = ...) -> None: ...

class SubmitLabelRequest(_message.Message):
    __slots__ = ("event_id", "verdict", "note")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    verdict: _alert_pb2.Verdict
    note: str
    def __init__(self, event_id: _Optional[str] = ..., verdict: _Optional[_Union[_alert_pb2.Verdict, str]] = ..., note: _Optional[str] = ...) -> None: ...

class SubmitLabelResponse(_message.Message):
    __slots__ = ("position", "duplicate")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    position: int
    duplicate: bool
    def __init__(self, position: _Optional[int] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("state", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: _alert_pb2.CaseState
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[_Union[_alert_pb2.CaseState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("cases", "next_page_token", "total_size")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[_alert_pb2.Case]
    next_page_token: str
    total_size: int
    def __init__(self, cases: _Optional[_Iterable[_Union[_alert_pb2.Case, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class StreamLabelsStart(_message.Message):
    __slots__ = ("consumer", "after_position")
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    consumer: str
    after_position: int
    def __init__(self, consumer: _Optional[str] = ..., after_position: _Optional[int] = ...) -> None: ...

class LabelsAck(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: int
    def __init__(self, position: _Optional[int] = ...) -> None: ...

class StreamLabelsRequest(_message.Message):
    __slots__ = ("start", "ack")
    START_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    start: StreamLabelsStart
    ack: LabelsAck
    def __init__(self, start: _Optional[_Union[StreamLabelsStart, _Mapping]] = ..., ack: _Optional[_Union[LabelsAck, _Mapping]] = ...) -> None: ...

class StreamLabelsResponse(_message.Message):
    __slots__ = ("examples",)
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    examples: _containers.RepeatedCompositeFieldContainer[_alert_pb2.LabeledExample]
    def __init__(self, examples: _Optional[_Iterable[_Union[_alert_pb2.LabeledExample, _Mapping]]] = ...) -> None: ...
