"""`fraudstream review`: label alerts in the terminal, or let simulated analysts do it."""

from __future__ import annotations

import getpass
import logging
import queue
from collections.abc import Iterator
from pathlib import Path

import click
import grpc
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from fraudstream.cli.analysts import GroundTruth, SimulatedAnalysts
from fraudstream.cli.credentials import client_transport, tls_options
from fraudstream.common import names
from fraudstream.common.transport import Transport
from fraudstream.v1 import (
    alert_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    score_pb2,
    transaction_pb2,
)

logger = logging.getLogger(__name__)

_KEYS = "[bold red]f[/] fraud   [bold green]l[/] legitimate   [bold]s[/] skip   [bold]q[/] quit"
_DECISION_STYLE = {"BLOCK": "bold red", "REVIEW": "yellow", "ALLOW": "green"}


@click.command()
@click.option(
    "--addr",
    envvar="FRAUDSTREAM_FEEDBACK_ADDR",
    default=names.FEEDBACK_ADDR,
    show_default=True,
    help="Feedback service address (env FRAUDSTREAM_FEEDBACK_ADDR).",
)
@click.option(
    "--token",
    envvar=["FRAUDSTREAM_TOKEN", "FRAUDSTREAM_ANALYST_TOKEN"],
    help="Your analyst bearer token (env FRAUDSTREAM_TOKEN or FRAUDSTREAM_ANALYST_TOKEN); "
    "labels are recorded under the analyst this token belongs to.",
)
@tls_options
@click.option(
    "--analyst",
    default=getpass.getuser,
    show_default="your login name",
    help="Name the session reports (for audit only; the token decides who labels).",
)
@click.option("--simulate", is_flag=True, help="Run simulated analysts instead of the terminal UI.")
@click.option(
    "--truth",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --simulate: the PaySim CSV the replayed events came from (its isFraud column).",
)
@click.option(
    "--analysts",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="With --simulate: how many analysts review at once (each has its own session).",
)
@click.option(
    "--delay",
    default=0.5,
    show_default=True,
    type=click.FloatRange(min=0),
    help="With --simulate: seconds each analyst takes per case.",
)
@click.option(
    "--error-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="With --simulate: probability a verdict contradicts the ground truth.",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="With --simulate: seed of the errors."
)
@click.option(
    "--max-labels",
    type=click.IntRange(min=1),
    default=None,
    help="With --simulate: stop after this many verdicts (default: run until Ctrl-C).",
)
def review(
    addr: str,
    token: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_ca: Path | None,
    analyst: str,
    simulate: bool,
    truth: Path | None,
    analysts: int,
    delay: float,
    error_rate: float,
    seed: int,
    max_labels: int | None,
) -> None:
    """Review alerts: the feedback service pushes open cases, highest risk first.

    Each case shows its risk, decision, reasons and transaction; answer with
    one key: f (fraud), l (legitimate), s (skip, someone else takes it), q (quit).
    With --simulate, analysts answer from the dataset's ground truth instead.
    Event ids of replayed rows end in '-<row>', the 0-based data row of --truth.
    """
    if not token:
        raise click.UsageError(
            "--token (or FRAUDSTREAM_TOKEN) is required: "
            "the feedback service only takes labels from known analysts"
        )
    # The token goes on each call (it names the analyst); the certificate opens the channel.
    transport = client_transport(tls_cert, tls_key, tls_ca)
    if simulate:
        if truth is None:
            raise click.UsageError("--simulate needs --truth F.csv (the dataset's ground truth)")
        _simulate(addr, token, transport, truth, analysts, delay, error_rate, seed, max_labels)
        return
    try:
        _review_in_terminal(addr, token, transport, analyst, Console(highlight=False))
    except grpc.RpcError as exc:
        raise click.ClickException(_explain(exc, addr)) from None


def _simulate(
    addr: str,
    token: str,
    transport: Transport,
    truth_path: Path,
    analysts: int,
    delay: float,
    error_rate: float,
    seed: int,
    max_labels: int | None,
) -> None:
    try:
        truth = GroundTruth.from_csv(truth_path)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    simulation = SimulatedAnalysts(
        addr,
        token,
        truth,
        analysts=analysts,
        delay=delay,
        error_rate=error_rate,
        seed=seed,
        max_labels=max_labels,
        channel_factory=transport.channel,
    )
    click.echo(
        f"{analysts} simulated analyst(s) on {addr}: {len(truth)} rows of ground truth, "
        f"{delay}s per case, error rate {error_rate}"
    )
    try:
        stats = simulation.run()
    except KeyboardInterrupt:
        simulation.stop()
        stats = simulation.stats
    except grpc.RpcError as exc:
        raise click.ClickException(_explain(exc, addr)) from None
    click.echo(
        f"labels: {stats.labels} acked ({stats.fraud} fraud, {stats.legit} legit given, "
        f"{stats.flipped} flipped on purpose), {stats.skipped} case(s) not in the dataset skipped"
    )


def _review_in_terminal(
    addr: str, token: str, transport: Transport, analyst: str, console: Console
) -> None:
    outbox: queue.Queue[feedback_service_pb2.ReviewRequest | None] = queue.Queue()

    def requests() -> Iterator[feedback_service_pb2.ReviewRequest]:
        yield feedback_service_pb2.ReviewRequest(
            start=feedback_service_pb2.ReviewStart(analyst=analyst, prefetch=1)
        )
        while (request := outbox.get()) is not None:
            yield request

    with transport.channel(addr) as channel:
        stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
        call = stub.Review(requests(), metadata=(("authorization", f"Bearer {token}"),))
        console.print(f"Connected to {addr}. Waiting for cases (Ctrl-C to quit).")
        labeled = 0
        cancelled = False
        try:
            for response in call:
                if response.HasField("verdict_ack"):
                    labeled += 1
                    ack = response.verdict_ack
                    console.print(f"[dim]recorded {ack.event_id} as label #{ack.position}[/]")
                    continue
                case = response.case_pushed
                console.print(_render(case))
                key = _read_key(console)
                if key == "q":
                    break
                outbox.put(_answer(case.event_id, key))
                if key == "s":
                    console.print(f"[dim]skipped {case.event_id}[/]")
        except KeyboardInterrupt:
            call.cancel()
            cancelled = True
        finally:
            outbox.put(None)  # the service acks what was sent, then releases our lease
        if not cancelled:
            for _ in call:  # the service ends the stream after our half-close
                pass
        console.print(f"{labeled} case(s) labeled this session.")


def _read_key(console: Console) -> str:
    console.print(_KEYS)
    while True:
        key = click.getchar().lower()
        if key in ("", "\x03", "\x04"):  # end of input, Ctrl-C, Ctrl-D
            return "q"
        if key in "flsq":
            return key


def _answer(event_id: str, key: str) -> feedback_service_pb2.ReviewRequest:
    if key == "s":
        return feedback_service_pb2.ReviewRequest(
            skip=feedback_service_pb2.ReviewSkip(event_id=event_id)
        )
    verdict = alert_pb2.VERDICT_FRAUD if key == "f" else alert_pb2.VERDICT_LEGIT
    return feedback_service_pb2.ReviewRequest(
        verdict=feedback_service_pb2.ReviewVerdict(event_id=event_id, verdict=verdict)
    )


def _render(case: alert_pb2.Case) -> Panel:
    alert, score, tx = case.alert, case.alert.score, case.alert.transaction
    decision = score_pb2.Decision.Name(score.decision).removeprefix("DECISION_")
    kind = "audit sample" if alert.kind == alert_pb2.ALERT_KIND_AUDIT else "alert"
    style = _DECISION_STYLE.get(decision, "")
    header = (
        f"risk [bold]{score.risk:.3f}[/]   decision [{style}]{decision}[/]   {kind}   "
        f"model {score.model_version or '?'}"
    )
    reasons = Table(title="Reasons", title_justify="left", expand=True, show_edge=False)
    reasons.add_column("why")
    reasons.add_column("detector")
    reasons.add_column("contribution", justify="right")
    for reason in score.reasons:
        detector = score_pb2.Detector.Name(reason.detector).removeprefix("DETECTOR_").lower()
        reasons.add_row(reason.text or reason.code, detector, f"{reason.contribution:+.2f}")
    if not score.reasons:
        reasons.add_row("[dim]no reasons given[/]", "", "")
    details = Table(title="Transaction", title_justify="left", show_header=False, show_edge=False)
    details.add_column(style="dim")
    details.add_column()
    kind_name = transaction_pb2.TransactionType.Name(tx.type).removeprefix("TRANSACTION_TYPE_")
    when = tx.event_time.ToDatetime().isoformat() if tx.HasField("event_time") else "?"
    for name, value in [
        ("type", kind_name),
        ("amount", f"{tx.amount:,.2f}"),
        ("time", f"{when} (step {tx.step})"),
        ("origin", f"{tx.name_orig}  {tx.old_balance_orig:,.2f} -> {tx.new_balance_orig:,.2f}"),
        (
            "destination",
            f"{tx.name_dest}  {tx.old_balance_dest:,.2f} -> {tx.new_balance_dest:,.2f}",
        ),
    ]:
        details.add_row(name, value)
    return Panel(
        Group(header, "", reasons, "", details),
        title=f"case {case.event_id}",
        title_align="left",
        border_style=style or "white",
    )


def _explain(exc: grpc.RpcError, addr: str) -> str:
    code = exc.code()
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f"the feedback service at {addr} refused the token: {exc.details()}"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"cannot reach the feedback service at {addr} ({exc.details()})"
    return f"review stream ended with {code.name}: {exc.details()}"
