"""`fraudstream readiness`: checks a running pipeline, writes reports/demo_readiness_report.json."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fraudstream.cli.credentials import client_transport, tls_options
from fraudstream.cli.readiness.checks import Check, Readiness, Targets
from fraudstream.common import names

logger = logging.getLogger(__name__)

REPORT = Path("reports") / "demo_readiness_report.json"


def _default_token() -> str | None:
    """$FRAUDSTREAM_TOKEN or $FRAUDSTREAM_ANALYST_TOKEN, else the first entry of
    $FRAUDSTREAM_ANALYST_TOKENS."""
    token = os.environ.get("FRAUDSTREAM_TOKEN") or os.environ.get("FRAUDSTREAM_ANALYST_TOKEN")
    if token:
        return token
    first = os.environ.get("FRAUDSTREAM_ANALYST_TOKENS", "").split(",")[0].strip()
    return first.split(":", 1)[-1] or None


def report_of(checks: list[Check]) -> dict[str, object]:
    """The report's JSON shape: {"ok": bool, "checks": [{"name", "ok", "detail"}, ...]}."""
    return {"ok": all(c.ok for c in checks), "checks": [c.as_dict() for c in checks]}


@click.command("readiness")
@click.option(
    "--kafka-bootstrap",
    envvar="FRAUDSTREAM_KAFKA_BOOTSTRAP",
    default=names.KAFKA_BOOTSTRAP,
    show_default=True,
    help="Kafka bootstrap servers (FRAUDSTREAM_KAFKA_BOOTSTRAP).",
)
@click.option(
    "--scorer-addr",
    envvar="FRAUDSTREAM_SCORER_ADDR",
    default=names.SCORER_ADDR,
    show_default=True,
    help="Scorer address(es), comma-separated: each is checked (FRAUDSTREAM_SCORER_ADDR).",
)
@click.option(
    "--feedback-addr",
    envvar="FRAUDSTREAM_FEEDBACK_ADDR",
    default=names.FEEDBACK_ADDR,
    show_default=True,
    help="Feedback address (FRAUDSTREAM_FEEDBACK_ADDR).",
)
@click.option(
    "--learner-addr",
    envvar="FRAUDSTREAM_LEARNER_ADDR",
    default=names.LEARNER_ADDR,
    show_default=True,
    help="Learner address (FRAUDSTREAM_LEARNER_ADDR).",
)
@click.option(
    "--ingest-addr",
    envvar="FRAUDSTREAM_INGEST_ADDR",
    default=names.INGEST_ADDR,
    show_default=True,
    help="Ingest health address (FRAUDSTREAM_INGEST_ADDR).",
)
@click.option(
    "--prometheus-url",
    envvar="FRAUDSTREAM_PROMETHEUS_URL",
    default="http://localhost:9090",
    show_default=True,
    help="Prometheus; its targets are checked when something listens there.",
)
@click.option(
    "--token",
    default=None,
    help="Bearer token every call carries; it must label for the label trace (default: "
    "FRAUDSTREAM_TOKEN, FRAUDSTREAM_ANALYST_TOKEN, else the first of FRAUDSTREAM_ANALYST_TOKENS).",
)
@tls_options
@click.option(
    "--no-label",
    is_flag=True,
    help="Skip the label trace (it records one FRAUD label on a synthetic transaction).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds each trace may take.",
)
@click.option(
    "--report",
    type=click.Path(path_type=Path, dir_okay=False),
    default=REPORT,
    show_default=True,
    help="Where the JSON report goes.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def readiness(
    kafka_bootstrap: str,
    scorer_addr: str,
    feedback_addr: str,
    learner_addr: str,
    ingest_addr: str,
    prometheus_url: str,
    token: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_ca: Path | None,
    no_label: bool,
    timeout: float,
    report: Path,
    as_json: bool,
) -> None:
    """Check a running pipeline end to end and write the readiness report.

    Kafka and its topics, every service's health, a model in every scorer,
    learner and scorers on the same version, Prometheus targets (when it runs),
    one synthetic transaction traced from `transactions` to `transactions.scored`,
    and its alert labeled through to the learner; per service, the transport (mTLS or
    plaintext) and whether callers without a token are admitted (not ready if they are).
    Exits 1 naming the failing checks.
    """
    token = token or _default_token()
    targets = Targets(
        kafka_bootstrap=kafka_bootstrap,
        scorers=tuple(a.strip() for a in scorer_addr.split(",") if a.strip()),
        feedback=feedback_addr,
        learner=learner_addr,
        ingest=ingest_addr,
        prometheus=prometheus_url.rstrip("/"),
        token=token,
        timeout=timeout,
        label=not no_label,
        transport=client_transport(tls_cert, tls_key, tls_ca, token),
    )
    checks = Readiness(targets).run()
    result = report_of(checks)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        table = Table(title="fraudstream readiness", show_lines=False)
        for column in ("check", "ok", "detail"):
            table.add_column(column)
        for check in checks:
            mark = "[green]ok[/]" if check.ok else "[red]FAIL[/]"
            detail = check.detail if isinstance(check.detail, str) else json.dumps(check.detail)
            table.add_row(check.name, mark, detail)
        Console(highlight=False).print(table)
        click.echo(f"report written to {report}")
    failing = [c.name for c in checks if not c.ok]
    if failing:
        click.echo(f"not ready: {', '.join(failing)}", err=True)
        raise SystemExit(1)
