"""A manifest cannot make the loader unpickle a file outside its bundle, or crash it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
import pytest

from fraudstream.model.bundle import MANIFEST_NAME, BundleError, file_sha256, load_bundle


class _RunsCode:
    """Unpickling this makes a directory: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def _manifest(directory: Path, artifacts: dict[str, Path]) -> None:
    records = {name: {"sha256": file_sha256(path)} for name, path in artifacts.items()}
    manifest = {"format": 1, "bundle_version": "test", "artifacts": records}
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))


@pytest.fixture
def outside(tmp_path: Path) -> tuple[Path, Path]:
    """A pickle outside the bundle that runs code when loaded, and the marker it would make."""
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.joblib"
    joblib.dump(_RunsCode(marker), evil)
    (tmp_path / "bundle").mkdir()
    return evil, marker


@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_an_artifact_name_outside_the_bundle_is_refused(tmp_path, outside, how):
    evil, marker = outside
    bundle = tmp_path / "bundle"
    name = "../evil.joblib" if how == "relative" else str(evil)
    _manifest(bundle, {name: evil})
    with pytest.raises(BundleError, match="not a plain file name"):
        load_bundle(bundle)
    assert not marker.exists(), "the outside pickle must never be unpickled"


def test_a_symlink_out_of_the_bundle_is_refused(tmp_path, outside):
    evil, marker = outside
    bundle = tmp_path / "bundle"
    (bundle / "model.joblib").symlink_to(evil)
    _manifest(bundle, {"model.joblib": evil})
    with pytest.raises(BundleError, match="outside the bundle"):
        load_bundle(bundle)
    assert not marker.exists()


def test_a_symlink_inside_the_bundle_is_followed(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    joblib.dump([1, 2], bundle / "real.joblib")
    (bundle / "model.joblib").symlink_to(bundle / "real.joblib")
    _manifest(bundle, {"model.joblib": bundle / "real.joblib"})
    assert load_bundle(bundle).artifacts["model.joblib"] == [1, 2]


@pytest.mark.parametrize("content", [b"not a pickle", b"", b"\x80\x04\x95garbage"])
def test_a_checked_artifact_that_is_no_pickle_is_a_bundle_error(tmp_path, content):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "model.joblib").write_bytes(content)
    _manifest(bundle, {"model.joblib": bundle / "model.joblib"})
    with pytest.raises(BundleError, match=r"model\.joblib .*cannot be loaded"):
        load_bundle(bundle)


@pytest.mark.parametrize(
    "manifest",
    [{"artifacts": []}, {"artifacts": {"a.joblib": "sha"}}, [], {"artifacts": None}],
)
def test_a_malformed_manifest_is_a_bundle_error(tmp_path, manifest):
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(BundleError):
        load_bundle(tmp_path)
