import datetime

from fraudstream.v1 import model_pb2 as _model_pb2
from fraudstream.v1 import score_pb2 as _score_pb2
from fraudstream.v1 import transaction_pb2 as _transaction_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StreamScoresRequest(_message.Message):
    __slots__ = ("batch_id", "transactions", "include_features")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FEATURES_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    transactions: _containers.RepeatedCompositeFieldContainer[_transaction_pb2.Transaction]
    include_features: bool
    def __init__(self, batch_id: _Optional[str] = ..., transactions: _Optional[_Iterable[_Union[_transaction_pb2.Transaction, _Mapping]]] = ..., include_features: _Optional[bool] = ...) -> None: ...

class StreamScoresResponse(_message.Message):
    __slots__ = ("batch_id", "scores")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    scores: _containers.RepeatedCompositeFieldContainer[_score_pb2.Score]
    def __init__(self, batch_id: _Optional[str] = ..., scores: _Optional[_Iterable[_Union[_score_pb2.Score, _Mapping]]] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("transactions", "include_features")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FEATURES_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[_transaction_pb2.Transaction]
    include_features: bool
    def __init__(self, transactions: _Optional[_Iterable[_Union[_transaction_pb2.Transaction, _Mapping]]] = ..., include_features: _Optional[bool] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("scores",)
    SCORES_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedCompositeFieldContainer[_score_pb2.Score]
    def __init__(self, scores: _Optional[_Iterable[_Union[_score_pb2.Score, _Mapping]]] = ...) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetModelInfoResponse(_message.Message):
    __slots__ = ("bundle_version", "snapshot_version", "model_version", "feature_names", "feature_schema_hash", "thresholds", "loaded_time", "bundle_created_time", "detectors", "max_batch_size")
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SCHEMA_HASH_FIELD_NUMBER: _ClassVar[int]
    THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    LOADED_TIME_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    snapshot_version: int
    model_version: str
    feature_names: _containers.RepeatedScalarFieldContainer[str]
    feature_schema_hash: str
    thresholds: _model_pb2.Thresholds
    loaded_time: _timestamp_pb2.Timestamp
    bundle_created_time: _timestamp_pb2.Timestamp
    detectors: _containers.RepeatedScalarFieldContainer[_score_pb2.Detector]
    max_batch_size: int
    def __init__(self, bundle_version: _Optional[str] = ..., snapshot_version: _Optional[int] = ..., model_version: _Optional[str] = ..., feature_names: _Optional[_Iterable[str]] = ..., feature_schema_hash: _Optional[str] = ..., thresholds: _Optional[_Union[_model_pb2.Thresholds, _Mapping]] = ..., loaded_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bundle_created_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., detectors: _Optional[_Iterable[_Union[_score_pb2.Detector, str]]] = ..., max_batch_size: _Optional[int] = ...) -> None: ...
