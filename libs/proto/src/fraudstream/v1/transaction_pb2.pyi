import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TransactionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_TYPE_UNSPECIFIED: _ClassVar[TransactionType]
    TRANSACTION_TYPE_PAYMENT: _ClassVar[TransactionType]
    TRANSACTION_TYPE_TRANSFER: _ClassVar[TransactionType]
    TRANSACTION_TYPE_CASH_OUT: _ClassVar[TransactionType]
    TRANSACTION_TYPE_CASH_IN: _ClassVar[TransactionType]
    TRANSACTION_TYPE_DEBIT: _ClassVar[TransactionType]
TRANSACTION_TYPE_UNSPECIFIED: TransactionType
TRANSACTION_TYPE_PAYMENT: TransactionType
TRANSACTION_TYPE_TRANSFER: TransactionType
TRANSACTION_TYPE_CASH_OUT: TransactionType
TRANSACTION_TYPE_CASH_IN: TransactionType
TRANSACTION_TYPE_DEBIT: TransactionType

class Transaction(_message.Message):
    __slots__ = ("event_id", "event_time", "step", "type", "amount", "name_orig", "old_balance_orig", "new_balance_orig", "name_dest", "old_balance_dest", "new_balance_dest")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_ORIG_FIELD_NUMBER: _ClassVar[int]
    OLD_BALANCE_ORIG_FIELD_NUMBER: _ClassVar[int]
    NEW_BALANCE_ORIG_FIELD_NUMBER: _ClassVar[int]
    NAME_DEST_FIELD_NUMBER: _ClassVar[int]
    OLD_BALANCE_DEST_FIELD_NUMBER: _ClassVar[int]
    NEW_BALANCE_DEST_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_time: _timestamp_pb2.Timestamp
    step: int
    type: TransactionType
    amount: float
    name_orig: str
    old_balance_orig: float
    new_balance_orig: float
    name_dest: str
    old_balance_dest: float
    new_balance_dest: float
    def __init__(self, event_id: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step: _Optional[int] = ..., type: _Optional[_Union[TransactionType, str]] = ..., amount: _Optional[float] = ..., name_orig: _Optional[str] = ..., old_balance_orig: _Optional[float] = ..., new_balance_orig: _Optional[float] = ..., name_dest: _Optional[str] = ..., old_balance_dest: _Optional[float] = ..., new_balance_dest: _Optional[float] = ...) -> None: ...
