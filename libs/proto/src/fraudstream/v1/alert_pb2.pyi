import datetime

from fraudstream.v1 import score_pb2 as _score_pb2
from fraudstream.v1 import transaction_pb2 as _transaction_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AlertKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_KIND_UNSPECIFIED: _ClassVar[AlertKind]
    ALERT_KIND_ALERT: _ClassVar[AlertKind]
    ALERT_KIND_AUDIT: _ClassVar[AlertKind]

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_FRAUD: _ClassVar[Verdict]
    VERDICT_LEGIT: _ClassVar[Verdict]

class CaseState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_STATE_UNSPECIFIED: _ClassVar[CaseState]
    CASE_STATE_OPEN: _ClassVar[CaseState]
    CASE_STATE_LEASED: _ClassVar[CaseState]
    CASE_STATE_LABELED: _ClassVar[CaseState]
ALERT_KIND_UNSPECIFIED: AlertKind
ALERT_KIND_ALERT: AlertKind
ALERT_KIND_AUDIT: AlertKind
VERDICT_UNSPECIFIED: Verdict
VERDICT_FRAUD: Verdict
VERDICT_LEGIT: Verdict
CASE_STATE_UNSPECIFIED: CaseState
CASE_STATE_OPEN: CaseState
CASE_STATE_LEASED: CaseState
CASE_STATE_LABELED: CaseState

class Alert(_message.Message):
    __slots__ = ("transaction", "score", "kind", "alert_time")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ALERT_TIME_FIELD_NUMBER: _ClassVar[int]
    transaction: _transaction_pb2.Transaction
    score: _score_pb2.Score
    kind: AlertKind
    alert_time: _timestamp_pb2.Timestamp
    def __init__(self, transaction: _Optional[_Union[_transaction_pb2.Transaction, _Mapping]] = ..., score: _Optional[_Union[_score_pb2.Score, _Mapping]] = ..., kind: _Optional[_Union[AlertKind, str]] = ..., alert_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Case(_message.Message):
    __slots__ = ("event_id", "alert", "state", "verdict", "analyst", "lease_expire_time", "note")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ANALYST_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    alert: Alert
    state: CaseState
    verdict: Verdict
    analyst: str
    lease_expire_time: _timestamp_pb2.Timestamp
    note: str
    def __init__(self, event_id: _Optional[str] = ..., alert: _Optional[_Union[Alert, _Mapping]] = ..., state: _Optional[_Union[CaseState, str]] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., analyst: _Optional[str] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class LabeledExample(_message.Message):
    __slots__ = ("position", "event_id", "verdict", "features", "score", "kind", "analyst", "label_time", "event_time", "transaction")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ANALYST_FIELD_NUMBER: _ClassVar[int]
    LABEL_TIME_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    position: int
    event_id: str
    verdict: Verdict
    features: _score_pb2.FeatureVector
    score: _score_pb2.Score
    kind: AlertKind
    analyst: str
    label_time: _timestamp_pb2.Timestamp
    event_time: _timestamp_pb2.Timestamp
    transaction: _transaction_pb2.Transaction
    def __init__(self, position: _Optional[int] = ..., event_id: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., features: _Optional[_Union[_score_pb2.FeatureVector, _Mapping]] = ..., score: _Optional[_Union[_score_pb2.Score, _Mapping]] = ..., kind: _Optional[_Union[AlertKind, str]] = ..., analyst: _Optional[str] = ..., label_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., transaction: _Optional[_Union[_transaction_pb2.Transaction, _Mapping]] = ...) -> None: ...
