"""The snapshot a scorer serves, kept on disk so a restarted scorer serves it again at once.

Without it a restarted scorer would serve its bundle's original model until the learner
pushes again: tens of milliseconds normally, without bound while the learner is down. The
file is only a cache of what the learner sent: at start it goes through every check a pushed
snapshot goes through (checksum, signature, feature schema, bundle lineage), and a file that
fails them is ignored, never trusted.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from google.protobuf.message import DecodeError

from fraudstream.common.files import atomic_write
from fraudstream.v1.model_pb2 import ModelSnapshot

logger = logging.getLogger(__name__)

APPLIED_NAME = "applied.binpb"


class AppliedSnapshots:
    """One scorer's persisted snapshot: written whole on every apply, read once at start."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of_scorer(cls, data_dir: Path, scorer_id: str) -> AppliedSnapshots:
        """`<data_dir>/scorer/<scorer id>/applied.binpb` (the id made a safe directory name)."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", scorer_id).lstrip(".") or "scorer"
        return cls(data_dir / "scorer" / safe / APPLIED_NAME)

    def save(self, snapshot: ModelSnapshot) -> None:
        """Replace the file with `snapshot` (atomically: a crash leaves the old one whole)."""
        atomic_write(self.path, snapshot.SerializeToString(deterministic=True))

    def load(self) -> ModelSnapshot | None:
        """The persisted snapshot, or None when there is none or it cannot be read (logged)."""
        try:
            content = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("cannot read the persisted snapshot %s: %s", self.path, exc)
            return None
        snapshot = ModelSnapshot()
        try:
            snapshot.ParseFromString(content)
        except DecodeError as exc:
            logger.warning("the persisted snapshot %s is not a snapshot: %s", self.path, exc)
            return None
        return snapshot
