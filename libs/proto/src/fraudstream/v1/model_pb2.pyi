import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Thresholds(_message.Message):
    __slots__ = ("review", "block")
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    review: float
    block: float
    def __init__(self, review: _Optional[float] = ..., block: _Optional[float] = ...) -> None: ...

class StandardScaler(_message.Message):
    __slots__ = ("mean", "scale")
    MEAN_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    mean: _containers.RepeatedScalarFieldContainer[float]
    scale: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, mean: _Optional[_Iterable[float]] = ..., scale: _Optional[_Iterable[float]] = ...) -> None: ...

class LinearModel(_message.Message):
    __slots__ = ("input_names", "coefficients", "intercept")
    INPUT_NAMES_FIELD_NUMBER: _ClassVar[int]
    COEFFICIENTS_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_FIELD_NUMBER: _ClassVar[int]
    input_names: _containers.RepeatedScalarFieldContainer[str]
    coefficients: _containers.RepeatedScalarFieldContainer[float]
    intercept: float
    def __init__(self, input_names: _Optional[_Iterable[str]] = ..., coefficients: _Optional[_Iterable[float]] = ..., intercept: _Optional[float] = ...) -> None: ...

class SnapshotMetrics(_message.Message):
    __slots__ = ("pr_auc", "recall", "window_size", "champion_pr_auc")
    PR_AUC_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_PR_AUC_FIELD_NUMBER: _ClassVar[int]
    pr_auc: float
    recall: float
    window_size: int
    champion_pr_auc: float
    def __init__(self, pr_auc: _Optional[float] = ..., recall: _Optional[float] = ..., window_size: _Optional[int] = ..., champion_pr_auc: _Optional[float] = ...) -> None: ...

class ModelSnapshot(_message.Message):
    __slots__ = ("version", "bundle_version", "feature_schema_hash", "scaler", "classifier", "thresholds", "created_time", "label_position", "metrics", "checksum")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SCHEMA_HASH_FIELD_NUMBER: _ClassVar[int]
    SCALER_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    LABEL_POSITION_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    version: int
    bundle_version: str
    feature_schema_hash: str
    scaler: StandardScaler
    classifier: LinearModel
    thresholds: Thresholds
    created_time: _timestamp_pb2.Timestamp
    label_position: int
    metrics: SnapshotMetrics
    checksum: str
    def __init__(self, version: _Optional[int] = ..., bundle_version: _Optional[str] = ..., feature_schema_hash: _Optional[str] = ..., scaler: _Optional[_Union[StandardScaler, _Mapping]] = ..., classifier: _Optional[_Union[LinearModel, _Mapping]] = ..., thresholds: _Optional[_Union[Thresholds, _Mapping]] = ..., created_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., label_position: _Optional[int] = ..., metrics: _Optional[_Union[SnapshotMetrics, _Mapping]] = ..., checksum: _Optional[str] = ...) -> None: ...
