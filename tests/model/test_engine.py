"""The scoring engines (compiled forest, numpy forest, fused autoencoder) equal scikit-learn."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from fraudstream.model.bundle import Bundle, load_bundle
from fraudstream.model.compiled import (
    CACHE_ENV,
    CompiledForest,
    compile_forest,
    forest_engine,
    library_name,
)
from fraudstream.model.detectors import DenseAutoencoder
from fraudstream.model.enginebench import holdout_rows, measure, sklearn_ensemble
from fraudstream.model.ensemble import ensemble_from_bundle
from fraudstream.model.forest import CompactForest

EXACT = 1e-9


@pytest.fixture(scope="module")
def bundle(model_bundle: Path) -> Bundle:
    return load_bundle(model_bundle)


@pytest.fixture(scope="module")
def holdout(bundle: Bundle, model_bundle: Path) -> np.ndarray:
    """The bundle's own test rows (after its validation period)."""
    rows = holdout_rows(bundle, model_bundle.parent / "features.parquet")
    assert rows.shape[0] > 1000
    return rows


def _small_forest(seed: int) -> IsolationForest:
    rng = np.random.default_rng(seed)
    return IsolationForest(n_estimators=4, max_samples=64, random_state=seed).fit(
        rng.normal(size=(500, 3))
    )


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_forest_engines_equal_scikit_learn_on_the_models_rows(bundle, holdout, engine):
    spec = bundle.manifest["detectors"]["isolation_forest"]
    model = bundle.artifacts[spec["artifact"]]
    reference = ensemble_from_bundle(bundle, "numpy").isolation_forest
    assert reference is not None
    x = holdout[:, reference.columns]
    scorer = forest_engine(model, engine)
    assert isinstance(scorer, CompiledForest if engine == "compiled" else CompactForest)
    expected = model.score_samples(x)
    np.testing.assert_allclose(scorer.score_samples(x), expected, rtol=0, atol=EXACT)
    # One row at a time and odd batch sizes take the same path through every engine.
    for size in (1, 7, 513):
        np.testing.assert_allclose(
            scorer.score_samples(x[:size]), expected[:size], rtol=0, atol=EXACT
        )


def test_compiled_forest_scores_one_row_exactly_as_its_batch(bundle, holdout):
    spec = bundle.manifest["detectors"]["isolation_forest"]
    reference = ensemble_from_bundle(bundle, "numpy").isolation_forest
    assert reference is not None
    scorer = forest_engine(bundle.artifacts[spec["artifact"]], "compiled")
    assert isinstance(scorer, CompiledForest) and scorer.one_row_path
    x = holdout[:500, reference.columns]
    one_by_one = np.concatenate([scorer.score_samples(x[i : i + 1]) for i in range(len(x))])
    np.testing.assert_array_equal(one_by_one, scorer.score_samples(x))
    # A row the runtime would read as missing (NaN) takes the batch path, as before.
    odd = x[:1].copy()
    odd[0, 0] = np.nan
    np.testing.assert_array_equal(
        scorer.score_samples(odd), scorer.score_samples(np.vstack([odd, x[:1]]))[:1]
    )


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_fused_ensemble_equals_scikit_learn(bundle, holdout, engine):
    fused = ensemble_from_bundle(bundle, engine)
    assert isinstance(fused.autoencoder, DenseAutoencoder)
    reference = sklearn_ensemble(bundle)
    assert not isinstance(reference.autoencoder, DenseAutoencoder)
    for rows in (holdout, holdout[:1], holdout[100:164]):
        got, want = fused.score(rows), reference.score(rows)
        np.testing.assert_allclose(got.risk, want.risk, rtol=0, atol=EXACT)
        np.testing.assert_array_equal(got.decision, want.decision)
        assert got.scores.keys() == want.scores.keys() and got.raw.keys() == want.raw.keys()
        for name in want.scores:
            np.testing.assert_allclose(got.scores[name], want.scores[name], rtol=0, atol=EXACT)
            np.testing.assert_array_equal(got.fired[name], want.fired[name])
        for name in want.raw:
            np.testing.assert_allclose(got.raw[name], want.raw[name], rtol=0, atol=EXACT)


def test_evaluate_metrics_on_the_test_rows_are_the_training_runs(bundle, holdout):
    from fraudstream.training.metrics import detection_metrics

    labels_frame = holdout_labels(bundle)
    ensemble = ensemble_from_bundle(bundle)
    scores = ensemble.score(holdout)
    recorded = bundle.manifest["metrics"]["test"]
    assert recorded["rows"] == holdout.shape[0]
    combined = detection_metrics(labels_frame, scores.risk, ensemble.thresholds.review)
    assert combined == recorded["combined"]
    for name, values in scores.scores.items():
        threshold = ensemble.fire_thresholds.get(name)
        assert detection_metrics(labels_frame, values, threshold) == recorded[name], name


def holdout_labels(bundle: Bundle) -> np.ndarray:
    import pandas as pd

    frame = pd.read_parquet(
        bundle.directory.parent / "features.parquet", columns=["step", "isFraud"]
    )
    last = bundle.manifest["training_data"]["split"]["validation_last_step"]
    return frame.loc[frame["step"] > last, "isFraud"].to_numpy()


def test_compiled_library_is_cached_by_model(tmp_path):
    first = compile_forest(_small_forest(1), cache=tmp_path)
    built = first.library.stat().st_mtime_ns
    again = compile_forest(_small_forest(1), cache=tmp_path)
    assert again.library == first.library and again.library.stat().st_mtime_ns == built
    other = compile_forest(_small_forest(2), cache=tmp_path)
    assert other.library != first.library
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [first.library.name, other.library.name]
    )


def test_a_library_of_another_model_is_refused(tmp_path, monkeypatch):
    right, wrong = _small_forest(1), _small_forest(2)
    # Another model's library under this model's name (as a stale or planted file would be).
    planted = compile_forest(wrong, cache=tmp_path / "other").library
    shutil.copyfile(planted, tmp_path / library_name(right))
    with pytest.raises(RuntimeError, match="differs from the numpy forest"):
        compile_forest(right, cache=tmp_path)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert isinstance(forest_engine(right), CompactForest)  # auto falls back, same scores


def test_a_cache_others_can_write_is_not_used(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    model = _small_forest(3)
    forest = compile_forest(model, cache=shared)
    assert not list(shared.iterdir())
    # Built privately and removed once loaded; the loaded library still scores.
    assert not forest.library.is_relative_to(shared) and not forest.library.exists()
    probe = np.random.default_rng(0).normal(size=(50, 3))
    np.testing.assert_allclose(
        forest.score_samples(probe), model.score_samples(probe), rtol=0, atol=EXACT
    )


def test_without_a_compiler_the_numpy_forest_serves(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "no-compilers-here"))
    model = _small_forest(4)
    assert isinstance(forest_engine(model), CompactForest)
    with pytest.raises(Exception):  # noqa: B017 - whatever tl2cgen raises must surface
        forest_engine(model, "compiled")
    with pytest.raises(ValueError, match="unknown forest engine"):
        forest_engine(model, "gpu")


def test_measure_reports_every_engine_against_scikit_learn(bundle, holdout):
    result = measure(bundle, holdout[:2000], batch_sizes=(1, 64), repeats=1, min_seconds=0.01)
    assert set(result["isolation_forest"]) >= {"scikit-learn", "numpy", "tl2cgen"}
    served = {"scikit-learn", "numpy forest only", "fused numpy", "fused tl2cgen"}
    # ONNX Runtime's forest with the fused rest, when `uv sync --group onnx` installed it.
    assert served <= set(result["ensemble"]) <= served | {"fused onnxruntime"}
    assert ("onnxruntime" in result["isolation_forest"]) == (
        "fused onnxruntime" in result["ensemble"]
    )
    for section in ("isolation_forest", "ensemble"):
        for name, numbers in result[section].items():
            assert set(numbers["rows_per_second"]) == {"1", "64"}
            assert all(v > 0 for v in numbers["rows_per_second"].values())
            if "onnxruntime" not in name:  # float32 inside: ~1e-7 off, reported, not kept
                assert numbers["max_abs_difference_from_sklearn"] <= EXACT, name
