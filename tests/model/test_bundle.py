"""The bundle loader verifies every artifact's sha256 and refuses a mismatch, naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fraudstream.model.bundle import MANIFEST_NAME, BundleError, load_bundle, write_bundle


def test_round_trip(tmp_path: Path) -> None:
    write_bundle(tmp_path, {"a.joblib": {"weights": [1, 2, 3]}}, {"thresholds": {"review": 0.5}})
    bundle = load_bundle(tmp_path)
    assert bundle.artifacts["a.joblib"] == {"weights": [1, 2, 3]}
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert len(manifest["artifacts"]["a.joblib"]["sha256"]) == 64
    assert manifest["bundle_version"] == bundle.version
    assert manifest["thresholds"] == {"review": 0.5}


def test_tampered_artifact_is_refused_by_name(tmp_path: Path) -> None:
    write_bundle(tmp_path, {"model.joblib": [1.0, 2.0]}, {})
    with (tmp_path / "model.joblib").open("ab") as sink:
        sink.write(b"tampered")
    with pytest.raises(BundleError, match=r"model\.joblib.*checksum"):
        load_bundle(tmp_path)


def test_missing_bundle_and_missing_artifact(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"manifest\.json is missing"):
        load_bundle(tmp_path)
    write_bundle(tmp_path, {"model.joblib": 1}, {})
    (tmp_path / "model.joblib").unlink()
    with pytest.raises(BundleError, match=r"model\.joblib.*missing"):
        load_bundle(tmp_path)


def test_bad_artifact_name_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="joblib"):
        write_bundle(tmp_path, {"../evil.pkl": 1}, {})
