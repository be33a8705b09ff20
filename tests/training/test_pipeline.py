"""End to end on a small simulation: simulate -> features -> train all -> evaluate --json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fraudstream.model.bundle import load_bundle
from fraudstream.model.ensemble import load_ensemble
from fraudstream.model.features import FEATURE_SCHEMA_HASH, features_from_frame
from fraudstream.training.cli import data, evaluate, train

TESTDATA = Path(__file__).parents[1] / "testdata"
METRIC_KEYS = {
    "pr_auc",
    "roc_auc",
    "recall_at_fpr",
    "recall_at_alert_rate",
    "precision_at_alert_rate",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("pipeline")
    runner = CliRunner()
    steps = [
        (
            data,
            [
                "simulate",
                "--rows",
                "80000",
                "--seed",
                "3",
                "--out",
                str(work / "sim.csv"),
                "--quiet",
            ],
        ),
        (
            data,
            [
                "features",
                "--input",
                str(work / "sim.csv"),
                "--output",
                str(work / "sim.parquet"),
                "--quiet",
            ],
        ),
        (
            train,
            [
                "all",
                "--input",
                str(work / "sim.parquet"),
                "--models",
                str(work / "models"),
                "--quiet",
            ],
        ),
    ]
    for command, args in steps:
        result = runner.invoke(command, args)
        assert result.exit_code == 0, result.output
    return work


@pytest.mark.slow
def test_bundle_layout(trained: Path) -> None:
    bundle = load_bundle(trained / "models")
    manifest = bundle.manifest
    assert set(manifest["artifacts"]) == {
        "isolation_forest.joblib",
        "autoencoder.joblib",
        "classifier.joblib",
    }
    assert manifest["feature_schema_hash"] == FEATURE_SCHEMA_HASH
    assert 0 < manifest["thresholds"]["review"] <= manifest["thresholds"]["block"] <= 1
    assert (
        manifest["training_data"]["split"]["train_last_step"]
        < manifest["training_data"]["split"]["validation_last_step"]
    )
    linear = manifest["detectors"]["classifier"]["linear"]
    assert (
        len(linear["coefficients"])
        == len(linear["input_names"])
        == len(manifest["feature_names"]) + 2
    )
    assert manifest["metrics"]["test"]["combined"]["pr_auc"] > 0.9


@pytest.mark.slow
def test_evaluate_json_shape(trained: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        evaluate,
        ["--input", str(TESTDATA / "paysim_sample.csv"), "--models", str(trained / "models"),
         "--json", "--reports", str(tmp_path), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == 36 and report["frauds"] == 10
    assert {"combined", "isolation_forest", "autoencoder", "classifier"} <= set(report["detectors"])
    for metrics in report["detectors"].values():
        assert set(metrics) >= METRIC_KEYS
        assert set(metrics["recall_at_fpr"]) == {"0.0001", "0.001", "0.01"}
        assert set(metrics["recall_at_alert_rate"]) == {"0.001", "0.005", "0.01"}
    assert report["detectors"]["combined"]["roc_auc"] > 0.9
    assert Path(report["pr_curve_png"]).is_file()


@pytest.mark.slow
def test_scores_reasons_and_snapshot_swap(trained: Path) -> None:
    ensemble = load_ensemble(trained / "models")
    frame = pd.read_csv(TESTDATA / "paysim_sample.csv")
    result = ensemble.score(features_from_frame(frame))
    assert ((result.risk >= 0) & (result.risk <= 1)).all()
    fraud = frame["isFraud"].to_numpy() == 1
    assert result.risk[fraud].min() > result.risk[~fraud].max() or result.risk[fraud].mean() > 0.5
    reasons = ensemble.reasons(result)
    top_fraud = int(np.argmax(result.risk))
    assert reasons[top_fraud] and reasons[top_fraud][0].contribution > 0
    assert ensemble.classifier is not None
    swapped = ensemble.with_classifier(ensemble.classifier)
    np.testing.assert_array_equal(swapped.score(features_from_frame(frame)).risk, result.risk)


@pytest.mark.slow
def test_retrain_one_model_keeps_the_others(trained: Path) -> None:
    before = load_bundle(trained / "models").manifest["artifacts"]
    result = CliRunner().invoke(
        train,
        [
            "ae",
            "--input",
            str(trained / "sim.parquet"),
            "--models",
            str(trained / "models"),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    after = load_bundle(trained / "models").manifest["artifacts"]
    assert after["isolation_forest.joblib"] == before["isolation_forest.joblib"]
    assert after["classifier.joblib"] == before["classifier.joblib"]
