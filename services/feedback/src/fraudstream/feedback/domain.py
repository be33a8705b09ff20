"""Domain types of the feedback service: alerts, cases in the review queue, labels."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AlertKind(enum.Enum):
    """Why a transaction reached analysts: a real alert or an audit sample of clean traffic."""

    ALERT = "alert"
    AUDIT = "audit"


class CaseState(enum.Enum):
    """Where a case stands in the review queue."""

    OPEN = "open"
    LEASED = "leased"
    LABELED = "labeled"


class Verdict(enum.Enum):
    """An analyst's judgement of a case."""

    FRAUD = "fraud"
    LEGIT = "legit"


@dataclass(frozen=True)
class AlertRecord:
    """An alert as stored: its identity, ordering key and the reported alert, opaque to the store.

    `payload` is the serialized alert exactly as the ingest bridge reported it
    (transaction, score, reasons, served feature vector); the store never parses it.
    """

    event_id: str
    kind: AlertKind
    risk: float
    payload: bytes


@dataclass(frozen=True)
class Case:
    """An alert in the review queue with its review state."""

    event_id: str
    kind: AlertKind
    risk: float
    payload: bytes
    state: CaseState
    analyst: str = ""
    lease_expires: float | None = None  # unix seconds, set while LEASED
    verdict: Verdict | None = None
    note: str = ""


@dataclass(frozen=True)
class Label:
    """One entry of the durable label log: a verdict on a stored alert."""

    position: int
    event_id: str
    verdict: Verdict
    analyst: str
    note: str
    label_time: float  # unix seconds
    kind: AlertKind
    payload: bytes


@dataclass(frozen=True)
class LabelOutcome:
    """What recording a verdict did: appended at `position`, or found the first verdict there."""

    position: int
    duplicate: bool


@dataclass(frozen=True)
class CasePage:
    """One page of a case listing, highest risk first."""

    cases: list[Case]
    next_page_token: str
    total_size: int
