"""`fraudstream model`: operate the served model (`rollback` asks the learner to serve an
earlier one)."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import grpc

from fraudstream.cli.credentials import client_transport, tls_options
from fraudstream.common import names
from fraudstream.v1 import learner_service_pb2, learner_service_pb2_grpc

logger = logging.getLogger(__name__)


@click.group()
def model() -> None:
    """Operate the model the scorers serve."""


@model.command()
@click.option(
    "--to",
    "to_version",
    type=click.IntRange(min=0),
    default=None,
    help="Version whose model should serve again (0: the bundle's own). "
    "Default: the champion before the current one.",
)
@click.option("--reason", default="", help="Why, recorded with the rollback.")
@click.option(
    "--learner-addr",
    envvar="FRAUDSTREAM_LEARNER_ADDR",
    default=names.LEARNER_ADDR,
    show_default=True,
    help="Learner address (FRAUDSTREAM_LEARNER_ADDR).",
)
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds to wait.")
@click.option(
    "--token",
    envvar="FRAUDSTREAM_TOKEN",
    help="An admin's bearer token (env FRAUDSTREAM_TOKEN): only admins may roll back.",
)
@tls_options
def rollback(
    to_version: int | None,
    reason: str,
    learner_addr: str,
    timeout: float,
    token: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_ca: Path | None,
) -> None:
    """Serve an earlier model again. The learner publishes it as a NEW snapshot version, so
    every scorer takes it like a promotion."""
    transport = client_transport(tls_cert, tls_key, tls_ca, token)
    request = learner_service_pb2.RollbackRequest(reason=reason or "fraudstream model rollback")
    if to_version is not None:
        request.to_version = to_version
    try:
        with transport.channel(learner_addr) as channel:
            stub = learner_service_pb2_grpc.LearnerServiceStub(channel)
            record = stub.Rollback(request, timeout=timeout).rollback
    except grpc.RpcError as exc:
        raise click.ClickException(
            f"rollback refused by {learner_addr}: {exc.code().name}: {exc.details()}"
        ) from None
    click.echo(
        f"rolled back from v{record.rolled_back_from}: now serving v{record.version} "
        f"(the model of v{record.restored_version}; reason: {record.reason})"
    )
