"""The learner, given verify keys, starts only from a bundle a trusted key signed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fraudstream.learner.server import load_baseline
from fraudstream.learner.settings import LearnerSettings
from fraudstream.model.bundle import BundleError
from fraudstream.model.signing import Signer, make_signing_key


def test_the_learner_refuses_an_unsigned_or_mis_signed_bundle(
    model_bundle: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "models"
    shutil.copytree(model_bundle, bundle)
    (tmp_path / "trusted").mkdir()
    (tmp_path / "rogue").mkdir()
    private, public = make_signing_key(tmp_path / "trusted")
    rogue, _ = make_signing_key(tmp_path / "rogue")
    settings = LearnerSettings(models=bundle, model_verify_keys=[str(public)])

    with pytest.raises(BundleError, match="is not signed"):
        load_baseline(settings)
    Signer.from_file(rogue).sign_bundle(bundle)
    with pytest.raises(BundleError, match="not trusted"):
        load_baseline(settings)
    Signer.from_file(private).sign_bundle(bundle)
    baseline = load_baseline(settings)
    assert baseline.bundle_version == load_baseline(LearnerSettings(models=bundle)).bundle_version
