"""The model bundle on disk: one `*.joblib` per model plus `manifest.json` with their sha256.

Loading checks every artifact's sha256 at once; a lazy load unpickles an artifact only when
it is first asked for: unpickling imports scikit-learn (seconds of start-up), which a scorer
whose engines come from the engine cache (warm.py) never needs.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fraudstream.common.files import atomic_write

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
BUNDLE_FORMAT = 1


class BundleError(Exception):
    """A bundle is missing, incomplete, or an artifact does not match its recorded checksum."""


# Called with the bundle directory and the exact manifest bytes about to be used, before any
# artifact is read; raises to refuse the bundle (a signature check: `Verifier.verify_bundle`).
ManifestCheck = Callable[[Path, bytes], None]


class Artifacts(Mapping[str, Any]):
    """Each artifact's object by file name, unpickled from its checked bytes on first access."""

    def __init__(self, contents: Mapping[str, bytes]) -> None:
        self._contents = dict(contents)
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Any:
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = _unpickle(name, self._contents[name])
            return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._contents)

    def __len__(self) -> int:
        return len(self._contents)


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: the manifest as written and each artifact (checked, unpickled lazily)."""

    directory: Path
    manifest: dict[str, Any]
    artifacts: Mapping[str, Any]

    @property
    def version(self) -> str:
        """The bundle version (creation time and content hash)."""
        return str(self.manifest["bundle_version"])

    def sha256(self, name: str) -> str:
        """The checked sha256 of artifact `name` (what derived engines are keyed by)."""
        return str(self.manifest["artifacts"][name]["sha256"])


def file_sha256(path: Path) -> str:
    """Lowercase hex sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_bundle(
    directory: Path, artifacts: Mapping[str, Any], manifest: Mapping[str, Any]
) -> Path:
    """Write each artifact (`name.joblib` -> object) and a manifest with their checksums.

    Artifacts already in the directory and not named here are kept if the manifest lists them
    under `artifacts` (so one model can be retrained alone). The manifest is written last and
    atomically: a crash mid-write leaves the old manifest, whose checksums then refuse the load.
    """
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    records: dict[str, dict[str, Any]] = dict(manifest.get("artifacts", {}))
    for name, value in artifacts.items():
        if not name.endswith(".joblib") or "/" in name:
            raise ValueError(f"artifact name {name!r} must be a plain `*.joblib` file name")
        path = directory / name
        joblib.dump(value, path, compress=3)
        records[name] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
    created = datetime.now(UTC)
    content = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()[:12]
    full = {
        "format": BUNDLE_FORMAT,
        "bundle_version": f"{created:%Y%m%dT%H%M%SZ}-{content}",
        "created_time": created.isoformat(timespec="seconds"),
        **{k: v for k, v in manifest.items() if k != "artifacts"},
        "artifacts": records,
    }
    atomic_write(directory / MANIFEST_NAME, (json.dumps(full, indent=2) + "\n").encode("utf-8"))
    logger.info("wrote bundle %s to %s", full["bundle_version"], directory)
    return directory / MANIFEST_NAME


def read_manifest(directory: Path, check: ManifestCheck | None = None) -> dict[str, Any]:
    """The manifest of a bundle directory, or BundleError saying what is wrong.

    `check` sees the manifest's bytes before they are parsed; whatever it raises (a
    SignatureError, say) is raised as a BundleError with the same message.
    """
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(f"no model bundle at {directory}: {MANIFEST_NAME} is missing")
    content = path.read_bytes()
    if check is not None:
        try:
            check(directory, content)
        except ValueError as exc:
            raise BundleError(str(exc)) from exc
    try:
        manifest = json.loads(content.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("artifacts"), dict):
        raise BundleError(f"{path} has no `artifacts` section")
    for name, record in manifest["artifacts"].items():
        if not isinstance(record, dict):
            raise BundleError(f"{path}: the record of artifact {name!r} is not an object")
    return manifest


def artifact_path(directory: Path, name: str) -> Path:
    """Where artifact `name` of the manifest is, confined to the bundle directory.

    Unpickling runs code, so a manifest must not reach outside its bundle: only plain file
    names are accepted (no separators, no `..`, not absolute) and the resolved path, symlinks
    followed, must still be inside the directory. BundleError names the artifact otherwise.
    """
    plain = (
        name not in ("", ".", "..")
        and Path(name).name == name
        and not any(c in name for c in "/\\\0")
    )
    if not plain:
        raise BundleError(
            f"artifact name {name!r} in the manifest is not a plain file name inside the bundle; "
            "refusing to load it"
        )
    root = directory.resolve()
    resolved = (directory / name).resolve()
    if not resolved.is_relative_to(root):
        raise BundleError(
            f"artifact {name} resolves to {resolved}, outside the bundle {root}; "
            "refusing to load it"
        )
    return resolved


def verify_artifact(directory: Path, name: str, record: Mapping[str, Any]) -> bytes:
    """The artifact's bytes once its sha256 matches the manifest; BundleError naming it otherwise.

    The bytes checked are the bytes unpickled: the file is read once, so it cannot be swapped
    between the check and the load.
    """
    path = artifact_path(directory, name)
    if not path.is_file():
        raise BundleError(f"artifact {name} listed in the manifest is missing from {directory}")
    content = path.read_bytes()
    actual = hashlib.sha256(content).hexdigest()
    if actual != record.get("sha256"):
        raise BundleError(
            f"artifact {name} failed its checksum: manifest says sha256 {record.get('sha256')}, "
            f"the file has {actual}; refusing to load it"
        )
    return content


def _unpickle(name: str, content: bytes) -> Any:
    import joblib

    try:
        return joblib.load(io.BytesIO(content))
    except Exception as exc:  # a checked file that is no joblib pickle raises anything at all
        raise BundleError(
            f"artifact {name} matches its checksum but cannot be loaded "
            f"({type(exc).__name__}: {exc}); rebuild the bundle"
        ) from exc


def load_bundle(
    directory: Path | str, check: ManifestCheck | None = None, *, lazy: bool = False
) -> Bundle:
    """Load a bundle, verifying every artifact's sha256 before unpickling anything (and the
    manifest with `check`, a signature check, before reading any artifact). `lazy`: each
    artifact is unpickled when first used (a damaged pickle raises BundleError then);
    otherwise all of them now."""
    directory = Path(directory)
    manifest = read_manifest(directory, check)
    contents = {
        name: verify_artifact(directory, name, record)
        for name, record in manifest["artifacts"].items()
    }
    artifacts = Artifacts(contents)
    if not lazy:
        for name in artifacts:
            artifacts[name]
    return Bundle(directory=directory, manifest=manifest, artifacts=artifacts)
