"""Signed bundles: load_bundle's check refuses unsigned and mis-signed bundles before unpickling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fraudstream.model.bundle import (
    MANIFEST_NAME,
    BundleError,
    file_sha256,
    load_bundle,
    write_bundle,
)
from fraudstream.model.signing import BUNDLE_SIGNATURE_NAME, Signer, Verifier, make_signing_key


def _keys(directory: Path) -> tuple[Signer, Verifier]:
    directory.mkdir(parents=True, exist_ok=True)
    private, public = make_signing_key(directory)
    return Signer.from_file(private), Verifier.from_files([public])


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    directory = tmp_path / "models"
    write_bundle(directory, {"weights.joblib": {"intercept": -3.0}}, {"thresholds": {}})
    return directory


def _poison(directory: Path) -> None:
    """Make the artifact a file that matches its checksum but fails to unpickle: a bundle
    refused for its signature must fail on that, never reach the unpickling."""
    artifact = directory / "weights.joblib"
    artifact.write_bytes(b"\x80\x04\x95garbage")
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    manifest["artifacts"]["weights.joblib"]["sha256"] = file_sha256(artifact)
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))


def test_a_bundle_signed_by_a_trusted_key_loads(bundle: Path, tmp_path: Path) -> None:
    signer, verifier = _keys(tmp_path / "keys")
    signer.sign_bundle(bundle)
    loaded = load_bundle(bundle, verifier.verify_bundle)
    assert loaded.artifacts["weights.joblib"] == {"intercept": -3.0}


def test_an_unsigned_bundle_is_refused_before_anything_is_unpickled(
    bundle: Path, tmp_path: Path
) -> None:
    _, verifier = _keys(tmp_path / "keys")
    _poison(bundle)
    with pytest.raises(BundleError, match=f"not signed \\(no {BUNDLE_SIGNATURE_NAME}\\)"):
        load_bundle(bundle, verifier.verify_bundle)
    with pytest.raises(BundleError, match="cannot be loaded"):
        load_bundle(bundle)  # without the check it gets as far as the unpickling


def test_a_bundle_signed_by_an_untrusted_key_is_refused(bundle: Path, tmp_path: Path) -> None:
    rogue, _ = _keys(tmp_path / "rogue")
    _, verifier = _keys(tmp_path / "trusted")
    _poison(bundle)
    rogue.sign_bundle(bundle)
    with pytest.raises(BundleError, match="not trusted"):
        load_bundle(bundle, verifier.verify_bundle)


def test_a_manifest_changed_after_signing_is_refused(bundle: Path, tmp_path: Path) -> None:
    signer, verifier = _keys(tmp_path / "keys")
    signer.sign_bundle(bundle)
    _poison(bundle)  # new artifact and checksum: the signed manifest no longer matches
    with pytest.raises(BundleError, match="the signature does not match"):
        load_bundle(bundle, verifier.verify_bundle)


def test_an_unreadable_signature_file_is_refused(bundle: Path, tmp_path: Path) -> None:
    _, verifier = _keys(tmp_path / "keys")
    (bundle / BUNDLE_SIGNATURE_NAME).write_text("{not json")
    with pytest.raises(BundleError, match=f"unreadable {BUNDLE_SIGNATURE_NAME}"):
        load_bundle(bundle, verifier.verify_bundle)
