"""The learner's durable state: promoted snapshots and one JSON state file, written atomically."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from fraudstream.common.files import atomic_write
from fraudstream.model.snapshot import snapshot_checksum
from fraudstream.v1.model_pb2 import ModelSnapshot

logger = logging.getLogger(__name__)

STATE_NAME = "state.json"
STATE_FORMAT = 1
SNAPSHOT_DIR = "snapshots"


class StateError(Exception):
    """The saved state cannot be trusted (unreadable, or a snapshot fails its checksum)."""


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

    def save_state(self, state: dict[str, Any]) -> None:
        body = {"format": STATE_FORMAT, **state}
        # Compact on purpose: json's C encoder only runs without indent, and this is written
        # after every label batch (`jq . state.json` shows it readably).
        atomic_write(self.state_path, (json.dumps(body) + "\n").encode("utf-8"))

    def load_state(self) -> dict[str, Any] | None:
        """The saved state, or None when this directory has never been used."""
        if not self.state_path.exists():
            return None
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StateError(f"cannot read {self.state_path}: {exc}") from exc
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise StateError(f"{self.state_path} is not a learner state (format {STATE_FORMAT})")
        return state

    def _prune(self, newest: int) -> None:
        for path in (self.directory / SNAPSHOT_DIR).glob("v*.binpb"):
            try:
                version = int(path.stem[1:])
            except ValueError:
                continue
            if version <= newest - self.keep_snapshots:
                path.unlink(missing_ok=True)
