"""A warm start builds the same engines from the engine cache, with nothing unpickled."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from fraudstream.model.bundle import load_bundle
from fraudstream.model.compiled import CompiledForest, compile_forest, tool_versions
from fraudstream.model.detectors import (
    AUTOENCODER,
    ISOLATION_FOREST,
    ISOLATION_FOREST_INPUTS,
    DenseAutoencoder,
)
from fraudstream.model.enginebench import holdout_rows
from fraudstream.model.ensemble import ensemble_from_bundle
from fraudstream.model.forest import CompactForest
from fraudstream.model.warm import EngineCache


@pytest.fixture(scope="module")
def holdout(model_bundle: Path) -> np.ndarray:
    return holdout_rows(load_bundle(model_bundle), model_bundle.parent / "features.parquet")[:2000]


def _cold_then_warm(bundle_dir: Path, cache: EngineCache, engine: str):
    cold_bundle = load_bundle(bundle_dir, lazy=True)
    cold = ensemble_from_bundle(cold_bundle, engine, cache)
    warm_bundle = load_bundle(bundle_dir, lazy=True)
    warm = ensemble_from_bundle(warm_bundle, engine, cache)
    return cold, warm, warm_bundle


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_a_warm_start_scores_the_same_without_unpickling(model_bundle, holdout, tmp_path, engine):
    cache = EngineCache(tmp_path)
    cold, warm, warm_bundle = _cold_then_warm(model_bundle, cache, engine)
    assert sorted(p.name.split("-")[0] for p in tmp_path.glob("*.npz")) == [
        AUTOENCODER,
        ISOLATION_FOREST,
    ]
    assert warm_bundle.artifacts._loaded == {}, "a warm start unpickles nothing"  # type: ignore[attr-defined]
    kind = CompiledForest if engine == "compiled" else CompactForest
    assert isinstance(warm.isolation_forest.model, kind)  # type: ignore[union-attr]
    assert isinstance(warm.autoencoder, DenseAutoencoder)
    got, want = warm.score(holdout), cold.score(holdout)
    np.testing.assert_array_equal(got.risk, want.risk)
    for name in want.raw:
        np.testing.assert_array_equal(got.raw[name], want.raw[name])


def test_a_warm_process_never_imports_scikit_learn(model_bundle, tmp_path):
    cache = EngineCache(tmp_path)
    ensemble_from_bundle(load_bundle(model_bundle, lazy=True), None, cache)
    code = (
        "import sys; from pathlib import Path\n"
        "from fraudstream.model.bundle import load_bundle\n"
        "from fraudstream.model.ensemble import ensemble_from_bundle\n"
        "from fraudstream.model.warm import EngineCache\n"
        f"e = ensemble_from_bundle(load_bundle(Path({str(model_bundle)!r}), lazy=True), None, "
        f"EngineCache(Path({str(tmp_path)!r})))\n"
        "print(type(e.isolation_forest.model).__name__, 'sklearn' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split() == ["CompiledForest", "False"], result.stderr


def test_a_tampered_cache_file_is_ignored_and_rewritten(model_bundle, holdout, tmp_path, caplog):
    cache = EngineCache(tmp_path)
    cold = ensemble_from_bundle(load_bundle(model_bundle, lazy=True), "numpy", cache)
    (path,) = tmp_path.glob(f"{AUTOENCODER}-*.npz")
    with np.load(path) as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays["weights_0"] = arrays["weights_0"] * 1.5  # digest left as it was
    with zipfile.ZipFile(path, "w") as rewritten:
        for name, value in arrays.items():
            with rewritten.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, value, allow_pickle=False)
    caplog.set_level(logging.WARNING, logger="fraudstream.model.warm")
    bundle = load_bundle(model_bundle, lazy=True)
    again = ensemble_from_bundle(bundle, "numpy", cache)
    assert "fail their digest" in caplog.text
    assert "autoencoder.joblib" in bundle.artifacts._loaded  # type: ignore[attr-defined]
    np.testing.assert_array_equal(again.score(holdout).risk, cold.score(holdout).risk)
    assert EngineCache(tmp_path).load(AUTOENCODER, bundle.sha256("autoencoder.joblib"))


def test_a_cache_file_of_another_artifact_is_ignored(model_bundle, tmp_path, caplog):
    cache = EngineCache(tmp_path)
    bundle = load_bundle(model_bundle, lazy=True)
    ensemble_from_bundle(bundle, "numpy", cache)
    (path,) = tmp_path.glob(f"{AUTOENCODER}-*.npz")
    other = "0" * 64
    shutil.copyfile(path, cache.path(AUTOENCODER, other))  # type: ignore[arg-type]
    caplog.set_level(logging.WARNING, logger="fraudstream.model.warm")
    assert cache.load(AUTOENCODER, other) is None
    assert "made for another artifact" in caplog.text


def test_a_cached_library_of_another_model_is_compiled_again(model_bundle, tmp_path, caplog):
    cache = EngineCache(tmp_path)
    bundle = load_bundle(model_bundle, lazy=True)
    ensemble_from_bundle(bundle, "numpy", cache)
    sha = bundle.sha256("isolation_forest.joblib")
    arrays, _ = cache.load(ISOLATION_FOREST, sha)  # type: ignore[misc]
    rng = np.random.default_rng(5)
    other = IsolationForest(n_estimators=4, max_samples=64, random_state=5).fit(
        rng.normal(size=(300, len(ISOLATION_FOREST_INPUTS)))
    )
    planted = compile_forest(other, cache=tmp_path).library.name
    # The record names another model's library (a stale or planted file).
    cache.save(ISOLATION_FOREST, sha, arrays, {"library": planted, **tool_versions()})
    caplog.set_level(logging.WARNING, logger="fraudstream.model.engines")
    warm = ensemble_from_bundle(load_bundle(model_bundle, lazy=True), "compiled", cache)
    assert f"the cached library {planted} is refused" in caplog.text
    rebuilt = warm.isolation_forest.model  # type: ignore[union-attr]
    assert isinstance(rebuilt, CompiledForest) and rebuilt.library.name != planted
    assert cache.load(ISOLATION_FOREST, sha)[1]["library"] == rebuilt.library.name  # type: ignore[index]


def test_engine_arrays_that_do_not_fit_are_refused():
    forest_arrays = {
        "feature": np.zeros((2, 3), dtype=np.int32),
        "threshold": np.zeros((2, 3), dtype=np.float32),
        "leaf_value": np.zeros((2, 3)),
        "shape": np.array([3.0, -0.5, 256.0]),
    }
    with pytest.raises(ValueError, match="do not fit together"):
        CompactForest.from_arrays(forest_arrays)
    encoder = {"mean": np.zeros(2), "scale": np.ones(2), "activation": np.array("relu")}
    encoder |= {"weights_0": np.zeros((2, 4)), "bias_0": np.zeros(4)}
    with pytest.raises(ValueError, match="does not reproduce its inputs"):
        DenseAutoencoder.from_arrays(encoder, [0, 1], score_map=None)  # type: ignore[arg-type]
