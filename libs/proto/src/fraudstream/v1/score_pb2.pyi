from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_ALLOW: _ClassVar[Decision]
    DECISION_REVIEW: _ClassVar[Decision]
    DECISION_BLOCK: _ClassVar[Decision]

class Detector(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DETECTOR_UNSPECIFIED: _ClassVar[Detector]
    DETECTOR_ISOLATION_FOREST: _ClassVar[Detector]
    DETECTOR_AUTOENCODER: _ClassVar[Detector]
    DETECTOR_CLASSIFIER: _ClassVar[Detector]
DECISION_UNSPECIFIED: Decision
DECISION_ALLOW: Decision
DECISION_REVIEW: Decision
DECISION_BLOCK: Decision
DETECTOR_UNSPECIFIED: Detector
DETECTOR_ISOLATION_FOREST: Detector
DETECTOR_AUTOENCODER: Detector
DETECTOR_CLASSIFIER: Detector

class DetectorScore(_message.Message):
    __slots__ = ("detector", "score", "raw_score", "fired")
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RAW_SCORE_FIELD_NUMBER: _ClassVar[int]
    FIRED_FIELD_NUMBER: _ClassVar[int]
    detector: Detector
    score: float
    raw_score: float
    fired: bool
    def __init__(self, detector: _Optional[_Union[Detector, str]] = ..., score: _Optional[float] = ..., raw_score: _Optional[float] = ..., fired: _Optional[bool] = ...) -> None: ...

class Reason(_message.Message):
    __slots__ = ("code", "text", "contribution", "detector")
    CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    code: str
    text: str
    contribution: float
    detector: Detector
    def __init__(self, code: _Optional[str] = ..., text: _Optional[str] = ..., contribution: _Optional[float] = ..., detector: _Optional[_Union[Detector, str]] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("field", "message")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    field: str
    message: str
    def __init__(self, field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class FeatureVector(_message.Message):
    __slots__ = ("schema_hash", "values")
    SCHEMA_HASH_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    schema_hash: str
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, schema_hash: _Optional[str] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class Score(_message.Message):
    __slots__ = ("event_id", "risk", "decision", "detector_scores", "model_version", "reasons", "error", "features")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RISK_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_SCORES_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    risk: float
    decision: Decision
    detector_scores: _containers.RepeatedCompositeFieldContainer[DetectorScore]
    model_version: str
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    error: ItemError
    features: FeatureVector
    def __init__(self, event_id: _Optional[str] = ..., risk: _Optional[float] = ..., decision: _Optional[_Union[Decision, str]] = ..., detector_scores: _Optional[_Iterable[_Union[DetectorScore, _Mapping]]] = ..., model_version: _Optional[str] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ..., features: _Optional[_Union[FeatureVector, _Mapping]] = ...) -> None: ...
