"""`fraudstream train` signs the bundle it writes and builds the compiled forest ahead."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from fraudstream.model.bundle import BundleError, load_bundle
from fraudstream.model.compiled import cache_directory, library_name
from fraudstream.model.signing import BUNDLE_SIGNATURE_NAME, Verifier, make_signing_key
from fraudstream.training.cli import train
from fraudstream.training.finish import warm_compiled_forest


@pytest.fixture
def retrainable(model_bundle: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the session bundle and the feature rows it was trained on."""
    models = tmp_path / "models"
    shutil.copytree(model_bundle, models)
    return models, model_bundle.parent / "features.parquet"


def _train(models: Path, features: Path, *extra: str, env: dict[str, str] | None = None):
    args = ["sgd", "--input", str(features), "--models", str(models), "--quiet", *extra]
    return CliRunner().invoke(train, args, env=env)


@pytest.mark.slow
def test_train_signs_the_bundle_it_writes_and_drops_a_stale_signature(
    retrainable: tuple[Path, Path], tmp_path: Path
) -> None:
    models, features = retrainable
    private, public = make_signing_key(tmp_path)
    verifier = Verifier.from_files([public])
    # Through the environment variable, as a deployment would pass it.
    result = _train(models, features, env={"FRAUDSTREAM_MODEL_SIGNING_KEY": str(private)})
    assert result.exit_code == 0, result.output
    assert "(signed)" in result.output
    verifier.verify_bundle(models)
    bundle = load_bundle(models, verifier.verify_bundle)
    assert bundle.manifest["training"]["models"] == "sgd"

    # Retrained without a key: the old signature would no longer match, so it goes.
    result = _train(models, features)
    assert result.exit_code == 0, result.output
    assert not (models / BUNDLE_SIGNATURE_NAME).exists()
    with pytest.raises(BundleError, match="not signed"):
        load_bundle(models, verifier.verify_bundle)


def test_a_bad_signing_key_fails_before_training(
    retrainable: tuple[Path, Path], tmp_path: Path
) -> None:
    models, features = retrainable
    before = (models / "manifest.json").read_bytes()
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("not a key")
    result = _train(models, features, "--signing-key", str(not_a_key))
    assert result.exit_code != 0
    assert "cannot load the model signing key" in result.output
    assert (models / "manifest.json").read_bytes() == before


def test_training_left_the_compiled_forest_in_the_cache(model_bundle: Path) -> None:
    """The session bundle was written by `fraudstream train all`: its forest's library is in
    the engine cache, so the first scorer start loads it instead of compiling it."""
    forest = load_bundle(model_bundle).artifacts["isolation_forest.joblib"]
    assert (cache_directory() / library_name(forest)).is_file()


def test_a_forest_that_cannot_be_compiled_is_said_and_training_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="fraudstream.training.finish")
    assert warm_compiled_forest(object()) is False
    assert "not compiled ahead" in caplog.text
