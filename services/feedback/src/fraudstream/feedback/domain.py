"""Domain types of the feedback service: alerts, cases in the review queue, labels."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from fraudstream.common.errors import FailedPrecondition


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


class VerdictOutcome(enum.Enum):
    """What recording a verdict did to the case's label."""

    ACCEPTED = "accepted"  # the case's label, new in the log
    DUPLICATE = "duplicate"  # the same verdict as the case's label
    CONFLICT = "conflict"  # the opposite of the case's label, which stands


@dataclass(frozen=True)
class LabelOutcome:
    """What recording a verdict did: appended at `position`, or found the first verdict there.

    For a DUPLICATE or CONFLICT, `label` is the verdict that stands and
    `labeled_by` the analyst who gave it.
    """

    position: int
    outcome: VerdictOutcome
    label: Verdict
    labeled_by: str

    @property
    def duplicate(self) -> bool:
        """True when the case already had a label (the same verdict or the opposite one)."""
        return self.outcome is not VerdictOutcome.ACCEPTED


@dataclass(frozen=True)
class GivenVerdict:
    """One verdict as an analyst gave it, whether or not it became the case's label."""

    event_id: str
    verdict: Verdict
    analyst: str
    note: str
    outcome: VerdictOutcome
    given_at: float  # unix seconds


class CaseLeased(FailedPrecondition):
    """A verdict on a case whose lease belongs to another analyst and has not run out."""


@dataclass(frozen=True)
class CasePage:
    """One page of a case listing, highest risk first."""

    cases: list[Case]
    next_page_token: str
    total_size: int
