"""The detectors' engine arrays cached per artifact, so a warm start needs no unpickling.

Converting a bundle's scikit-learn artifacts into the engines that score (the numpy forest,
the dense autoencoder) needs scikit-learn imported and the pickles loaded: seconds of CPU at
every start. The arrays those engines are made of are cached as one `.npz` per artifact in
the engine cache (the private directory the compiled forest lives in, compiled.py), named by
the artifact's sha256, so the next start of any process serving the same bundle reads them
in milliseconds. The cache is never trusted beyond what it can prove: a file is used only
when it is this user's private cache, names the same artifact sha256 and cache format,
holds no pickled objects, and its arrays hash to the digest written with them; anything
else is logged and ignored (the artifact is converted again and the file rewritten). The
engines built from it then check their arrays' shapes (forest.py, detectors.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.common.files import atomic_write
from fraudstream.model.compiled import private_cache

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1
_META = "__meta__"
_DIGEST = "__digest__"


def _digest(arrays: dict[str, np.ndarray], meta: str) -> str:
    digest = hashlib.sha256(f"fraudstream-engine-{CACHE_FORMAT}\0{meta}\0".encode())
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}\0{value.dtype.str}\0{value.shape}\0".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


class EngineCache:
    """Engine arrays by (kind, artifact sha256) in a private directory (None: no caching)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @classmethod
    def default(cls) -> EngineCache:
        """The engine cache of compiled.py ($FRAUDSTREAM_ENGINE_CACHE, else ~/.cache/...), or
        no caching when it is not private to this user."""
        return cls(private_cache())

    def path(self, kind: str, artifact_sha256: str) -> Path | None:
        """Where the arrays of `kind` for that artifact are kept."""
        if self.directory is None:
            return None
        return self.directory / f"{kind}-{artifact_sha256[:40]}-v{CACHE_FORMAT}.npz"

    def load(
        self, kind: str, artifact_sha256: str
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """(arrays, meta) written by `save` for this artifact; None when absent or unproven."""
        path = self.path(kind, artifact_sha256)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            meta_text = str(arrays.pop(_META))
            digest = str(arrays.pop(_DIGEST))
            meta = json.loads(meta_text)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            logger.warning("ignoring the engine cache file %s: %s", path, exc)
            return None
        expected = {"kind": kind, "artifact_sha256": artifact_sha256, "format": CACHE_FORMAT}
        if any(meta.get(k) != v for k, v in expected.items()):
            logger.warning("ignoring the engine cache file %s: made for another artifact", path)
            return None
        if _digest(arrays, meta_text) != digest:
            logger.warning("ignoring the engine cache file %s: its arrays fail their digest", path)
            return None
        return arrays, meta

    def save(
        self,
        kind: str,
        artifact_sha256: str,
        arrays: dict[str, np.ndarray],
        meta: dict[str, Any] | None = None,
    ) -> Path | None:
        """Write the arrays (atomically); a cache that cannot be written is only logged."""
        path = self.path(kind, artifact_sha256)
        if path is None:
            return None
        full = {
            **(meta or {}),
            "kind": kind,
            "artifact_sha256": artifact_sha256,
            "format": CACHE_FORMAT,
        }
        meta_text = json.dumps(full, sort_keys=True)
        buffer = io.BytesIO()
        stored = {
            **arrays,
            _META: np.array(meta_text),
            _DIGEST: np.array(_digest(arrays, meta_text)),
        }
        np.savez(buffer, allow_pickle=False, **stored)
        try:
            atomic_write(path, buffer.getvalue(), mode=0o600)
        except OSError as exc:
            logger.warning("cannot write the engine cache file %s: %s", path, exc)
            return None
        return path
