"""`fraudstream experiment accounts`: the report's shape, and its detectors are `train`'s."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fraudstream.cli.experiment import experiment
from fraudstream.cli.experiment.accounts_models import (
    SUPERVISED,
    WITH,
    WITHOUT,
    FeatureSet,
    feature_matrix,
    fit_detectors,
)
from fraudstream.cli.experiment.accounts_run import GROUPS, VARIANTS
from fraudstream.model.accounts import ACCOUNT_FEATURE_NAMES
from fraudstream.model.detectors import AUTOENCODER, ISOLATION_FOREST
from fraudstream.model.ensemble import load_ensemble
from fraudstream.model.features import FEATURE_NAMES
from fraudstream.training.api import (
    PATTERNS,
    SimulationConfig,
    TrainConfig,
    simulate,
    time_split,
    train,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("accounts") / "sim.csv"
    patterns = tuple((name, 0.004) for name in PATTERNS)
    simulate(SimulationConfig(rows=8_000, seed=5, patterns=patterns), out, quiet=True)
    return pd.read_csv(out)


@pytest.mark.parametrize("features", [WITHOUT, WITH], ids=lambda f: f.name)
def test_the_experiments_detectors_are_the_ones_train_builds(
    simulated: pd.DataFrame, features: FeatureSet, tmp_path: Path
) -> None:
    """`train` (or `train --accounts`) on the same rows without labels builds the detectors the
    experiment measures: same inputs, score maps and scores."""
    # Every row marked legitimate: `train` then fits the autoencoder on every row, as the
    # experiment does with no labels (the forest never reads labels).
    unlabeled = tmp_path / "all_legit.csv"
    simulated.assign(isFraud=0).to_csv(unlabeled, index=False)
    with_accounts = features is WITH
    for which in ("if", "ae"):
        config = TrainConfig(
            input=unlabeled,
            models=tmp_path / "models",
            which=which,
            seed=3,
            quiet=True,
            warm_compiled=False,
            account_features=with_accounts,
        )
        train(config)
    bundle = load_ensemble(tmp_path / "models")
    assert bundle.isolation_forest is not None and bundle.autoencoder is not None

    matrix = feature_matrix(simulated)
    fitted = time_split(simulated["step"].to_numpy(), 0.15, 0.15).train  # train's split
    forest, encoder = fit_detectors(matrix[fitted], features, seed=3)
    width = len(FEATURE_NAMES) + (len(ACCOUNT_FEATURE_NAMES) if with_accounts else 0)
    assert bundle.feature_names == features.schema.names and len(bundle.feature_names) == width
    names = bundle.feature_names
    assert tuple(names[c] for c in bundle.isolation_forest.columns) == features.forest
    assert tuple(names[c] for c in bundle.autoencoder.columns) == features.autoencoder
    assert bundle.isolation_forest.score_map == forest.score_map
    assert bundle.autoencoder.score_map == encoder.score_map
    x = features.of(matrix).astype(np.float64)
    np.testing.assert_allclose(bundle.isolation_forest.raw(x), forest.raw(x), rtol=1e-9)
    np.testing.assert_allclose(bundle.autoencoder.raw(x), encoder.raw(x), rtol=1e-9)


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
    # The forest keeps its balance inputs; the autoencoder and the classifier read more.
    assert columns[WITH.name][ISOLATION_FOREST] == columns[WITHOUT.name][ISOLATION_FOREST] == 3
    for model in (AUTOENCODER, SUPERVISED):
        assert columns[WITH.name][model] == columns[WITHOUT.name][model] + 14, model
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
