"""Ed25519 model signatures: bundles and arbitrary content, trusted keys, rotation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fraudstream.model.signing import SignatureError, Signer, Verifier, make_signing_key


def _keys(directory: Path) -> tuple[Signer, Verifier]:
    directory.mkdir(parents=True, exist_ok=True)
    private, public = make_signing_key(directory)
    assert private.stat().st_mode & 0o077 == 0
    return Signer.from_file(private), Verifier.from_files([public])


def test_a_signature_verifies_and_any_change_breaks_it(tmp_path: Path) -> None:
    signer, verifier = _keys(tmp_path)
    signature = signer.sign(b"coefficients 1 2 3")
    verifier.verify(b"coefficients 1 2 3", signature, signer.key_id, "snapshot v1")
    with pytest.raises(SignatureError, match="does not match"):
        verifier.verify(b"coefficients 0 0 0", signature, signer.key_id, "snapshot v1")
    with pytest.raises(SignatureError, match="not signed"):
        verifier.verify(b"coefficients 1 2 3", b"", signer.key_id, "snapshot v1")


def test_a_key_that_is_not_trusted_is_refused(tmp_path: Path) -> None:
    signer, _ = _keys(tmp_path / "real")
    rogue, _ = _keys(tmp_path / "rogue")
    _, verifier = _keys(tmp_path / "other")
    content = b"weights"
    with pytest.raises(SignatureError, match="not trusted"):
        verifier.verify(content, rogue.sign(content), rogue.key_id, "snapshot v9")
    # Naming a trusted key id does not help a signature made by another key.
    trusting = Verifier.from_files([tmp_path / "real" / "model-signing.pub"])
    with pytest.raises(SignatureError, match="does not match"):
        trusting.verify(content, rogue.sign(content), signer.key_id, "snapshot v9")


def test_rotation_trusts_old_and_new_keys_at_once(tmp_path: Path) -> None:
    old, _ = _keys(tmp_path / "old")
    new, _ = _keys(tmp_path / "new")
    both = Verifier.from_files([tmp_path / d / "model-signing.pub" for d in ("old", "new")])
    for signer in (old, new):
        both.verify(b"m", signer.sign(b"m"), signer.key_id, "bundle")
    assert both.key_ids == sorted([old.key_id, new.key_id])


def test_a_bundle_signature_covers_the_manifest(tmp_path: Path) -> None:
    signer, verifier = _keys(tmp_path / "keys")
    bundle = tmp_path / "models"
    bundle.mkdir()
    manifest = {"bundle_version": "b1", "artifacts": {"sgd.joblib": "ab" * 32}}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SignatureError, match="not signed"):
        verifier.verify_bundle(bundle)
    signer.sign_bundle(bundle)
    verifier.verify_bundle(bundle)
    manifest["artifacts"]["sgd.joblib"] = "cd" * 32  # an artifact swapped with its checksum
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SignatureError, match="does not match"):
        verifier.verify_bundle(bundle)
    (bundle / "manifest.sig").write_text("{not json")
    with pytest.raises(SignatureError, match="unreadable"):
        verifier.verify_bundle(bundle)


def test_key_files_of_the_wrong_kind_are_named(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(SignatureError, match=r"junk\.pem"):
        Verifier.from_files([tmp_path / "junk.pem"])
    with pytest.raises(SignatureError, match=r"junk\.pem"):
        Signer.from_file(tmp_path / "junk.pem")
    with pytest.raises(SignatureError, match="no trusted"):
        Verifier([])
