"""`fraudstream experiment accounts`: do account features let unlabeled detectors see new fraud?"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from fraudstream.cli.demo.build import Steps

logger = logging.getLogger(__name__)

REFERENCE_ENV = "FRAUDSTREAM_PAYSIM_REFERENCE"
DEFAULT_REFERENCE = Path("/work/shared/paysim-reference/paysim_v1_seed7_sample10pct.csv.gz")


def _reference_path(option: Path | None) -> Path | None:
    if option is not None:
        return option
    configured = os.environ.get(REFERENCE_ENV)
    return Path(configured) if configured else DEFAULT_REFERENCE


def _bundle_figure(
    reference: Path, workdir: Path, seed: int, steps: Steps, accounts: bool = False
) -> dict[str, Any]:
    """The project's own `train` on the reference (labels; `accounts`: `train --accounts`)."""
    from fraudstream.training.api import TrainConfig, train

    how = "train --accounts" if accounts else "train"
    with steps.step(f"reference: the bundle as `fraudstream {how}` builds it"):
        manifest = train(
            TrainConfig(
                input=reference,
                models=workdir / ("reference-bundle-accounts" if accounts else "reference-bundle"),
                seed=seed,
                quiet=True,
                account_features=accounts,
            )
        )
    test = manifest["metrics"]["test"]
    return {
        "pr_auc_combined": round(test["combined"]["pr_auc"], 4),
        "pr_auc_per_detector": {
            name: round(test[name]["pr_auc"], 4)
            for name in ("isolation_forest", "autoencoder", "classifier")
            if name in test
        },
        "note": f"`fraudstream {how}` on the reference: the autoencoder fits on legitimate "
        "rows (labels), the classifier's probability is the combined risk; "
        + (
            "account features (file order) in the autoencoder and the classifier"
            if accounts
            else "no account features"
        ),
    }


def _reference(
    path: Path | None, seeds: tuple[int, ...], workdir: Path, bundle: bool, steps: Steps
) -> dict[str, Any]:
    from fraudstream.cli.experiment.accounts_report import worst_reference
    from fraudstream.cli.experiment.accounts_run import load_reference, reference_seed

    if path is None or not path.is_file():
        note = f"skipped: no PaySim reference at {path} (set --reference or {REFERENCE_ENV})"
        steps.console.print(f"[yellow]{note}[/]")
        return {"path": str(path), "note": note}
    frame, matrix = load_reference(path, steps)
    per_seed = [reference_seed(frame, matrix, seed, steps) for seed in seeds]
    result: dict[str, Any] = {
        "path": str(path),
        "rows": len(frame),
        "frauds": int(frame["isFraud"].sum()),
        "per_seed": per_seed,
        "worst_seed": worst_reference(per_seed),
        "note": "a uniform 10% sample: an account's events are mostly missing from it, so its "
        "account features undercount; detectors fit on the earlier 70% of rows without labels, "
        "the classifier with them; PR-AUC on the latest 15% (the test period of `train`)",
    }
    if bundle:
        result["bundle"] = _bundle_figure(path, workdir, seeds[0], steps)
        result["bundle_with_account_features"] = _bundle_figure(
            path, workdir, seeds[0], steps, accounts=True
        )
    return result


def _inputs(features: Any) -> dict[str, Any]:
    return {
        "columns": features.columns,
        "isolation_forest_inputs": list(features.forest),
        "autoencoder_inputs": list(features.autoencoder),
    }


@click.command("accounts")
@click.option("--rows", type=click.IntRange(min=5_000), default=200_000, show_default=True)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Simulated runs (seeds 7, 8, ...); the worst is reported.",
)
@click.option(
    "--share",
    type=click.FloatRange(0, 0.05, min_open=True),
    default=0.002,
    show_default=True,
    help="Share of the rows given to each new pattern.",
)
@click.option(
    "--reference",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"PaySim reference sample [default: ${REFERENCE_ENV}, else {DEFAULT_REFERENCE}].",
)
@click.option(
    "--bundle/--no-bundle",
    default=True,
    show_default=True,
    help="Also train the project's bundle on the reference for its own combined PR-AUC.",
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/experiment"),
    show_default=True,
)
@click.option(
    "--out",
    "reports",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
)
def accounts(
    rows: int,
    seeds: int,
    share: float,
    reference: Path | None,
    bundle: bool,
    workdir: Path,
    reports: Path,
) -> None:
    """Recall on mule fan-in, takeover bursts and structuring with zero labels, with and without
    account features, and PR-AUC on the PaySim reference; reports/accounts_experiment.json, .png.

    The Isolation Forest and the autoencoder are fitted on the earlier steps of the simulated
    transactions without isFraud; recall is measured at FPR 0.1% on the later steps.
    """
    from fraudstream.cli.experiment.accounts_models import FEATURE_SETS, UNSUPERVISED, WITH
    from fraudstream.cli.experiment.accounts_report import (
        TARGET_PR_AUC,
        TARGET_RECALL,
        verdicts,
        worst_recall,
        write,
    )
    from fraudstream.cli.experiment.accounts_run import FPR, VARIANTS, simulated_seed
    from fraudstream.model.detectors import AUTOENCODER
    from fraudstream.training.api import PATTERNS

    console = Console(stderr=True, highlight=False)
    steps = Steps(console)
    workdir.mkdir(parents=True, exist_ok=True)
    seed_list = tuple(7 + i for i in range(seeds))
    per_seed = [simulated_seed(rows, seed, share, workdir, steps) for seed in seed_list]
    worst = worst_recall(per_seed)
    reference_result = _reference(_reference_path(reference), seed_list, workdir, bundle, steps)
    result: dict[str, Any] = {
        "settings": {"rows": rows, "seeds": list(seed_list), "share": share, "fpr": FPR},
        "targets": {"recall_at_fpr": TARGET_RECALL, "reference_pr_auc": TARGET_PR_AUC},
        "feature_sets": {f.name: _inputs(f) for f in FEATURE_SETS},
        "simulated": {
            "per_seed": per_seed,
            "worst_seed": worst,
            "recall_ceiling_lowest": {
                p: min(s["recall_ceiling"][p] for s in per_seed) for p in PATTERNS
            },
        },
        "reference": reference_result,
        "meets_target": verdicts(worst, reference_result),
        "notes": [
            "zero labels for the detectors: fitted on the earlier 70% of rows without isFraud; "
            "isFraud only marks legitimate rows (the FPR) and the rows measured",
            "models fitted by training.fit, as `fraudstream train` (without) and `train "
            "--accounts` (with) fit them, on the same inputs and score maps; the autoencoder "
            "on every row since there are no labels",
            "score_maps_at_q999: the detectors with account features, their score maps "
            "centred on the 99.9th percentile of training scores (the calibration before "
            "the 99th)",
            f"{UNSUPERVISED}: the max of the two detectors' 0..1 scores, the bundle's risk "
            "without a classifier",
            "recall_ceiling: the share of a pattern's rows that are not the first of their "
            "instance; the first (a mule's first incoming payment, a sender's first transfer) "
            "has no earlier event to stand out by",
            "simulated legitimate accounts are nearly all fresh names (one event each), so "
            "account features of legitimate rows are nearly constant there",
        ],
        "steps": steps.as_dict(),
    }
    json_path, png_path = write(result, reports)
    for name, recalls in worst[WITH.name].items():
        without = worst["without_account_features"][name][UNSUPERVISED]
        variants = ", ".join(f"{worst[v][name][UNSUPERVISED]} {v}" for v in VARIANTS)
        console.print(
            f"{name}: recall (worst seed) {recalls[UNSUPERVISED]} with account features "
            f"(autoencoder alone {recalls[AUTOENCODER]}), {without} without, {variants}"
        )
    console.print(f"wrote {json_path} and {png_path}")
