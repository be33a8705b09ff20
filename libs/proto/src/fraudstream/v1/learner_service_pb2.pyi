import datetime

from fraudstream.v1 import model_pb2 as _model_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SyncHello(_message.Message):
    __slots__ = ("scorer_id", "snapshot_version", "feature_schema_hash", "bundle_version")
    SCORER_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SCHEMA_HASH_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    scorer_id: str
    snapshot_version: int
    feature_schema_hash: str
    bundle_version: str
    def __init__(self, scorer_id: _Optional[str] = ..., snapshot_version: _Optional[int] = ..., feature_schema_hash: _Optional[str] = ..., bundle_version: _Optional[str] = ...) -> None: ...

class SnapshotAck(_message.Message):
    __slots__ = ("version", "applied", "reason")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    version: int
    applied: bool
    reason: str
    def __init__(self, version: _Optional[int] = ..., applied: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class SyncModelsRequest(_message.Message):
    __slots__ = ("hello", "ack")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    hello: SyncHello
    ack: SnapshotAck
    def __init__(self, hello: _Optional[_Union[SyncHello, _Mapping]] = ..., ack: _Optional[_Union[SnapshotAck, _Mapping]] = ...) -> None: ...

class SyncModelsResponse(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: _model_pb2.ModelSnapshot
    def __init__(self, snapshot: _Optional[_Union[_model_pb2.ModelSnapshot, _Mapping]] = ...) -> None: ...

class GetLearnerStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConnectedScorer(_message.Message):
    __slots__ = ("scorer_id", "applied_version", "last_rejection", "connected_time")
    SCORER_ID_FIELD_NUMBER: _ClassVar[int]
    APPLIED_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_REJECTION_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_TIME_FIELD_NUMBER: _ClassVar[int]
    scorer_id: str
    applied_version: int
    last_rejection: str
    connected_time: _timestamp_pb2.Timestamp
    def __init__(self, scorer_id: _Optional[str] = ..., applied_version: _Optional[int] = ..., last_rejection: _Optional[str] = ..., connected_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetLearnerStatusResponse(_message.Message):
    __slots__ = ("champion_version", "bundle_version", "label_position", "labels_seen", "updates", "promotions", "refusals", "champion_metrics", "challenger_metrics", "scorers", "last_promotion_time")
    CHAMPION_VERSION_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_POSITION_FIELD_NUMBER: _ClassVar[int]
    LABELS_SEEN_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    PROMOTIONS_FIELD_NUMBER: _ClassVar[int]
    REFUSALS_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_METRICS_FIELD_NUMBER: _ClassVar[int]
    CHALLENGER_METRICS_FIELD_NUMBER: _ClassVar[int]
    SCORERS_FIELD_NUMBER: _ClassVar[int]
    LAST_PROMOTION_TIME_FIELD_NUMBER: _ClassVar[int]
    champion_version: int
    bundle_version: str
    label_position: int
    labels_seen: int
    updates: int
    promotions: int
    refusals: int
    champion_metrics: _model_pb2.SnapshotMetrics
    challenger_metrics: _model_pb2.SnapshotMetrics
    scorers: _containers.RepeatedCompositeFieldContainer[ConnectedScorer]
    last_promotion_time: _timestamp_pb2.Timestamp
    def __init__(self, champion_version: _Optional[int] = ..., bundle_version: _Optional[str] = ..., label_position: _Optional[int] = ..., labels_seen: _Optional[int] = ..., updates: _Optional[int] = ..., promotions: _Optional[int] = ..., refusals: _Optional[int] = ..., champion_metrics: _Optional[_Union[_model_pb2.SnapshotMetrics, _Mapping]] = ..., challenger_metrics: _Optional[_Union[_model_pb2.SnapshotMetrics, _Mapping]] = ..., scorers: _Optional[_Iterable[_Union[ConnectedScorer, _Mapping]]] = ..., last_promotion_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
