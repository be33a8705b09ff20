"""The learner's durable state: promoted snapshots and one JSON LearnerState, written atomically."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from fraudstream.common.files import atomic_write
from fraudstream.learner.challenger import ChallengerWeights
from fraudstream.learner.window import WindowRecord
from fraudstream.model.linear import LinearModel
from fraudstream.model.snapshot import snapshot_checksum
from fraudstream.v1.model_pb2 import ModelSnapshot

logger = logging.getLogger(__name__)

STATE_NAME = "state.json"
STATE_FORMAT = 1
SNAPSHOT_DIR = "snapshots"


class StateError(Exception):
    """The saved state cannot be trusted (unreadable, or a snapshot fails its checksum)."""


@dataclass
class LearnerState:
    """Everything the learner saves after each label batch; a restart resumes from exactly this.

    Each field is saved under its own name in `state.json` (plus `format` and the derived
    `labels_seen`, for readers of the file). The defaults are the state before any label.
    """

    bundle_version: str
    feature_schema_hash: str
    challenger: ChallengerWeights
    champion_version: int = 0  # 0 while the bundle's own classifier is champion
    label_position: int = 0  # the last label-log position applied, refused entries included
    labels: dict[str, int] = field(default_factory=lambda: {"fraud": 0, "legit": 0})
    refused_examples: dict[str, int] = field(default_factory=dict)  # by reason
    updates: int = 0
    updates_since_promotion: int = 0
    promotions: int = 0
    refusals: int = 0
    last_promotion_time: float | None = None
    learned_position: int = 0  # the position of the newest label the challenger learned from
    learned_label_time: float | None = None  # its label time (Unix seconds)
    served_label_time: float | None = None  # the newest label time reflected in the champion
    last_judgement: str = ""
    saved_time: float = 0.0
    window: WindowRecord = field(default_factory=WindowRecord.empty)
    # Versions that served as champion, oldest first (0: the bundle's own classifier); a
    # rollback without a target restores the one before the newest.
    served_versions: list[int] = field(default_factory=lambda: [0])
    rollbacks: int = 0
    last_rollback: dict[str, Any] | None = None  # a RollbackRecord's fields
    # Labels scored by the champion since it began serving (promotion or rollback).
    labels_since_promotion: int = 0
    # Set at a promotion: what the automatic rollback compares the promoted model with.
    rollback_watch: dict[str, Any] | None = None
    # The newest IPW estimates of both models (see evidence_summary), for the status.
    evidence: dict[str, Any] | None = None

    @classmethod
    def start(
        cls, bundle_version: str, feature_schema_hash: str, classifier: LinearModel
    ) -> LearnerState:
        """The state before any label: the bundle's classifier is champion and challenger."""
        weights = ChallengerWeights(classifier.coefficients.tolist(), float(classifier.intercept))
        return cls(bundle_version, feature_schema_hash, weights)

    @property
    def labels_seen(self) -> int:
        return self.labels["fraud"] + self.labels["legit"]


class SnapshotStore:
    """`<directory>/snapshots/v<version>.binpb` (serialized ModelSnapshot) and `state.json`.

    The state file is the commit point: it names the champion's snapshot and holds the label
    position, counters, challenger weights and prequential window as of that position.
    Snapshot files are written before the state that refers to them.
    """

    def __init__(self, directory: Path, keep_snapshots: int = 50) -> None:
        self.directory = directory
        self.keep_snapshots = keep_snapshots
        (directory / SNAPSHOT_DIR).mkdir(parents=True, exist_ok=True)

    @property
    def state_path(self) -> Path:
        return self.directory / STATE_NAME

    def snapshot_path(self, version: int) -> Path:
        return self.directory / SNAPSHOT_DIR / f"v{version:08d}.binpb"

    def save_snapshot(self, snapshot: ModelSnapshot) -> Path:
        """Persist a sealed snapshot durably; older files beyond `keep_snapshots` are pruned."""
        path = self.snapshot_path(snapshot.version)
        atomic_write(path, snapshot.SerializeToString(deterministic=True))
        self._prune(snapshot.version)
        return path

    def load_snapshot(self, version: int) -> ModelSnapshot:
        path = self.snapshot_path(version)
        try:
            snapshot = ModelSnapshot.FromString(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read snapshot v{version} at {path}: {exc}") from exc
        if snapshot.version != version or snapshot.checksum != snapshot_checksum(snapshot):
            raise StateError(f"snapshot file {path} is damaged (version or checksum mismatch)")
        return snapshot

    def save_state(self, state: LearnerState) -> None:
        body = {"format": STATE_FORMAT, "labels_seen": state.labels_seen, **_fields_of(state)}
        # Compact on purpose: json's C encoder only runs without indent, and this is written
        # after every label batch (`jq . state.json` shows it readably).
        atomic_write(self.state_path, (json.dumps(body) + "\n").encode("utf-8"))

    def load_state(self, bundle_version: str) -> LearnerState | None:
        """The state saved for `bundle_version`, or None when this directory was never used."""
        if not self.state_path.exists():
            return None
        try:
            body = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StateError(f"cannot read {self.state_path}: {exc}") from exc
        if not isinstance(body, dict) or body.get("format") != STATE_FORMAT:
            raise StateError(f"{self.state_path} is not a learner state (format {STATE_FORMAT})")
        try:
            state = _state_of(body)
        except (KeyError, TypeError) as exc:
            raise StateError(f"{self.state_path} lacks or mistypes {exc}") from exc
        if state.bundle_version != bundle_version:
            raise StateError(
                f"{self.state_path} belongs to bundle {state.bundle_version}, not {bundle_version}"
            )
        return state

    def _prune(self, newest: int) -> None:
        for path in (self.directory / SNAPSHOT_DIR).glob("v*.binpb"):
            try:
                version = int(path.stem[1:])
            except ValueError:
                continue
            if version <= newest - self.keep_snapshots:
                path.unlink(missing_ok=True)


# Fields added after format 1 was first written: states saved before them load with defaults.
_ADDED_LATER = frozenset(
    {
        "served_versions",
        "rollbacks",
        "last_rollback",
        "labels_since_promotion",
        "rollback_watch",
        "evidence",
    }
)


def _fields_of(state: LearnerState) -> dict[str, Any]:
    """The state's fields as JSON-ready values: `asdict` without its deep copy, which walked
    every number of the window one Python call at a time (70% of the learner's CPU at ten
    labels a second, the state being saved after each). Its nested records hold only lists
    and numbers, so a shallow dict of each is the same JSON."""
    return {
        each.name: vars(value) if is_dataclass(value) else value
        for each in fields(state)
        for value in (getattr(state, each.name),)
    }


def _state_of(body: dict[str, Any]) -> LearnerState:
    saved = {
        each.name: body[each.name]
        for each in fields(LearnerState)
        if each.name not in _ADDED_LATER or each.name in body
    }
    saved["labels"] = {"fraud": 0, "legit": 0, **saved["labels"]}
    saved["challenger"] = ChallengerWeights(**saved["challenger"])
    saved["window"] = WindowRecord(**saved["window"])
    return LearnerState(**saved)
