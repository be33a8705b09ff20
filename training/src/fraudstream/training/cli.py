"""The `fraudstream data`, `train` and `evaluate` commands (thin: the work is in modules)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from fraudstream.training.pattern_option import pattern_option

logger = logging.getLogger(__name__)

_existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
_quiet = click.option("--quiet", is_flag=True, help="No progress bars.")
_accounts = click.option(
    "--accounts",
    is_flag=True,
    help="Add the 14 account features (docs/account-features.md), computed over the file in "
    "row order; the scorer then needs them with every transaction.",
)


def _setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@click.group()
def data() -> None:
    """PaySim data: simulate it, validate a file, compute features."""
    _setup_logging()


@data.command()
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=6_362_620,
    show_default=True,
    help="Rows to write.",
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same file)."
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CSV to write.",
)
@click.option(
    "--steps", type=click.IntRange(1, 743), default=743, show_default=True, help="Hourly steps."
)
@click.option(
    "--drift-step",
    type=click.IntRange(min=1),
    default=None,
    help="Step from which a new fraud pattern appears.",
)
@click.option(
    "--drift-pattern",
    type=click.Choice(["structuring", "merchant"]),
    default="structuring",
    show_default=True,
    help="The new pattern: small structured transfers, or fraud through PAYMENT to merchants.",
)
@pattern_option
@_quiet
def simulate(
    rows: int,
    seed: int,
    out: Path,
    steps: int,
    drift_step: int | None,
    drift_pattern: str,
    patterns: tuple[tuple[str, float], ...],
    quiet: bool,
) -> None:
    """Simulate PaySim-compatible transactions (Kaggle header and layout)."""
    from fraudstream.training.simulate import SimulationConfig
    from fraudstream.training.simulate import simulate as run

    config = SimulationConfig(
        rows=rows, seed=seed, steps=steps, drift_step=drift_step, drift_pattern=drift_pattern,
        patterns=patterns,
    )  # fmt: skip
    summary = run(config, out, quiet=quiet)
    extra = f", {summary.pattern_rows} of patterns" if patterns else ""
    counts = f"{summary.frauds} frauds, {summary.flagged} flagged{extra}"
    click.echo(f"wrote {summary.rows} rows ({counts}) to {out}", err=True)


@data.command()
@click.option(
    "--input",
    "source",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="PaySim CSV.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout."
)
@_quiet
def validate(source: Path, as_json: bool, quiet: bool) -> None:
    """Check a PaySim-layout CSV; exits 1 on a broken file, with line numbers."""
    from fraudstream.training.validate import validate as run

    report = run(source, quiet=quiet)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        summary = report.to_dict()
        click.echo(
            f"{source}: {summary['rows']} rows, {summary['frauds']} frauds, "
            f"types {summary['type_counts']}"
        )
        balance = summary["balance_consistency"]
        # A finding, not an error: PaySim records balances that do not add up.
        click.echo(
            f"balances: {balance['origin_breaks']} rows where oldbalanceOrg - amount !="
            f" newbalanceOrig, {balance['destination_breaks']} where oldbalanceDest + amount"
            f" != newbalanceDest, {balance['negative_balances']} with a negative balance"
        )
        for error in report.errors:
            click.echo(f"error: {error}", err=True)
        if report.error_count > len(report.errors):
            click.echo(f"... and {report.error_count - len(report.errors)} more errors", err=True)
    if not report.ok:
        sys.exit(1)


@data.command()
@click.option(
    "--input", "source", type=_existing_file, required=True, help="PaySim CSV (plain or .gz)."
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Parquet to write.",
)
@_accounts
@_quiet
def features(source: Path, output: Path, accounts: bool, quiet: bool) -> None:
    """Compute the feature vector of every row into a parquet file."""
    from fraudstream.model.schema import schema_for
    from fraudstream.training.csvio import DataFileError
    from fraudstream.training.featurize import write_features

    try:
        rows = write_features(source, output, quiet=quiet, features=schema_for(accounts))
    except DataFileError as exc:  # names the file already
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:
        raise click.ClickException(
            f"{source}: {exc}; run `fraudstream data validate` for details"
        ) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {rows} feature rows to {output}", err=True)


@click.command()
@click.argument("which", type=click.Choice(["all", "if", "ae", "sgd"]), default="all")
@click.option(
    "--input", "source", type=_existing_file, required=True, help="Feature parquet (or PaySim CSV)."
)
@click.option(
    "--models",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FRAUDSTREAM_MODELS",
    default="models",
    show_default=True,
    help="Bundle directory.",
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--alert-budget",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.005,
    show_default=True,
    help="Largest share of transactions sent to REVIEW (on validation data).",
)
@click.option(
    "--block-budget",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.001,
    show_default=True,
    help="Largest share of transactions blocked.",
)
@click.option(
    "--fraud-weight",
    type=click.FloatRange(min=1),
    default=10.0,
    show_default=True,
    help="Weight of a fraud row in the classifier's loss.",
)
@click.option(
    "--signing-key",
    type=_existing_file,
    envvar="FRAUDSTREAM_MODEL_SIGNING_KEY",
    default=None,
    help="Ed25519 private key (PEM, `fraudstream certs` writes model-signing.key) that signs "
    "the bundle into manifest.sig; scorers with verify keys serve only signed bundles.",
)
@_accounts
@_quiet
def train(
    which: str,
    source: Path,
    models: Path,
    seed: int,
    alert_budget: float,
    block_budget: float,
    fraud_weight: float,
    signing_key: Path | None,
    accounts: bool,
    quiet: bool,
) -> None:
    """Train all models, or one (if, ae, sgd), and write the bundle to --models.

    Rows are split by time: earlier steps train, later steps validate (thresholds) and test.
    The bundle is signed with --signing-key, and its forest compiled into the engine cache so
    the first scorer start does not compile it.
    """
    _setup_logging()
    from fraudstream.training.train import TrainConfig
    from fraudstream.training.train import train as run

    config = TrainConfig(
        input=source, models=models, which=which, seed=seed, alert_budget=alert_budget,
        block_budget=block_budget, fraud_weight=fraud_weight, quiet=quiet,
        signing_key=signing_key, account_features=accounts,
    )  # fmt: skip
    try:
        manifest = run(config)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    test = manifest["metrics"]["test"].get("combined", {})
    signed = " (signed)" if signing_key is not None else ""
    click.echo(
        f"wrote bundle to {models}{signed}; test PR-AUC {test.get('pr_auc', float('nan')):.4f}",
        err=True,
    )


@click.command()
@click.option(
    "--input",
    "source",
    type=_existing_file,
    required=True,
    help="Labeled PaySim CSV or feature parquet.",
)
@click.option(
    "--models",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FRAUDSTREAM_MODELS",
    default="models",
    show_default=True,
    help="Bundle directory.",
)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option(
    "--reports",
    type=click.Path(file_okay=False, path_type=Path),
    default="reports",
    show_default=True,
    help="Where the PR-curve PNG goes.",
)
@_quiet
def evaluate(source: Path, models: Path, as_json: bool, reports: Path, quiet: bool) -> None:
    """Detection metrics of a bundle on labeled data, per detector and combined."""
    _setup_logging("WARNING" if as_json else "INFO")
    from fraudstream.model.bundle import BundleError
    from fraudstream.training.evaluate import evaluate as run

    try:
        report = run(source, models, reports, quiet=quiet)
    except (BundleError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(
        f"{report['rows']} rows, {report['frauds']} frauds (bundle {report['bundle_version']})"
    )
    for name, metrics in report["detectors"].items():
        fpr = metrics["recall_at_fpr"]
        click.echo(
            f"  {name:17s} PR-AUC {metrics['pr_auc']}  ROC-AUC {metrics['roc_auc']}  "
            f"recall@FPR0.1% {fpr['0.001']}"
        )
    click.echo(f"PR curve: {report.get('pr_curve_png')}")
