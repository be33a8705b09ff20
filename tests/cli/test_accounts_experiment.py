"""`fraudstream experiment accounts`: the report's shape, and the without run is the bundle's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fraudstream.cli.experiment import experiment
from fraudstream.cli.experiment.accounts_models import WITH, WITHOUT, feature_matrix, fit_detectors
from fraudstream.cli.experiment.accounts_run import GROUPS, VARIANTS
from fraudstream.model.accounts import ACCOUNT_FEATURE_NAMES
from fraudstream.model.features import FEATURE_NAMES
from fraudstream.training.api import PATTERNS, SimulationConfig, simulate
from fraudstream.training.fit import fit_autoencoder, fit_isolation_forest

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("accounts") / "sim.csv"
    patterns = tuple((name, 0.004) for name in PATTERNS)
    simulate(SimulationConfig(rows=8_000, seed=5, patterns=patterns), out, quiet=True)
    return pd.read_csv(out)


def test_the_run_without_account_features_is_the_bundles_detectors(simulated) -> None:  # type: ignore[no-untyped-def]
    matrix = feature_matrix(simulated).astype(np.float32)  # training holds features as float32
    assert matrix.shape[1] == len(FEATURE_NAMES) + len(ACCOUNT_FEATURE_NAMES)
    forest, encoder = fit_detectors(matrix, WITHOUT, seed=3)
    features = matrix[:, : len(FEATURE_NAMES)]
    bundle_forest = fit_isolation_forest(features, seed=3)
    bundle_encoder = fit_autoencoder(features, np.ones(len(features), dtype=bool), seed=3)
    np.testing.assert_allclose(forest.raw(matrix), bundle_forest.raw(features), rtol=1e-12)
    np.testing.assert_allclose(encoder.raw(matrix), bundle_encoder.raw(features), rtol=1e-9)
    assert forest.score_map == bundle_forest.score_map
    # With account features the same detectors read more columns, the account features last.
    wide_forest, wide_encoder = fit_detectors(matrix, WITH, seed=3)
    assert len(wide_forest.columns) == len(forest.columns) + len(ACCOUNT_FEATURE_NAMES)
    assert len(wide_encoder.columns) == len(encoder.columns) + len(ACCOUNT_FEATURE_NAMES)


def _run(tmp_path: Path, reference: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    args = ["accounts", "--rows", "20000", "--seeds", "2", "--share", "0.004", "--reference",
            str(reference), "--workdir", str(tmp_path / "work"), "--out", str(tmp_path / "r"),
            *extra]  # fmt: skip
    result = CliRunner().invoke(experiment, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "accounts_experiment.png").read_bytes()[:8] == PNG_MAGIC
    return json.loads((tmp_path / "r" / "accounts_experiment.json").read_text())


@pytest.mark.integration
def test_report_shape_and_columns(tmp_path: Path) -> None:
    reference = tmp_path / "reference.csv"
    simulate(SimulationConfig(rows=20_000, seed=9), reference, quiet=True)
    report = _run(tmp_path, reference)

    assert report["settings"]["seeds"] == [7, 8]
    columns = {name: spec["columns"] for name, spec in report["feature_sets"].items()}
    for model, without in columns[WITHOUT.name].items():
        assert columns[WITH.name][model] > without, model
    per_seed = report["simulated"]["per_seed"]
    assert [s["seed"] for s in per_seed] == [7, 8]
    for seed in per_seed:
        assert set(seed["recall_at_fpr"]) == {WITHOUT.name, WITH.name, *VARIANTS}
        assert all(seed["measured_group_rows"][g] > 0 for g in PATTERNS)
        assert all(0.0 < seed["recall_ceiling"][p] < 1.0 for p in PATTERNS)
    worst = report["simulated"]["worst_seed"]
    for run in (WITHOUT.name, WITH.name):
        assert set(worst[run]) == set(GROUPS)
        for group in GROUPS:
            recalls = worst[run][group]
            lowest = min(s["recall_at_fpr"][run][group]["unsupervised_combined"] for s in per_seed)
            assert recalls["unsupervised_combined"] == lowest
            assert all(0.0 <= v <= 1.0 for v in recalls.values())
    reference_part = report["reference"]
    assert reference_part["rows"] == 20_000 and len(reference_part["per_seed"]) == 2
    for run in (WITHOUT.name, WITH.name):
        assert set(reference_part["worst_seed"][run]) >= {"unsupervised_combined", "classifier"}
    assert 0.0 <= reference_part["bundle"]["pr_auc_combined"] <= 1.0
    assert all(isinstance(v, bool) for v in report["meets_target"].values())


@pytest.mark.integration
def test_a_missing_reference_is_skipped_with_a_note(tmp_path: Path) -> None:
    report = _run(tmp_path, tmp_path / "absent.csv.gz", "--seeds", "1", "--no-bundle")
    assert report["reference"]["note"].startswith("skipped")
    assert not any(k.startswith("reference_") for k in report["meets_target"])
