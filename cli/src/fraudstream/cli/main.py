"""Entry point of the `fraudstream` command: built-in commands plus those packages register."""

from __future__ import annotations

import importlib
import logging
import sys
from importlib.metadata import entry_points

import click

logger = logging.getLogger(__name__)

# Commands that live in this package, imported only when used so that
# `fraudstream --help` stays fast.
_BUILTIN_COMMANDS: dict[str, str] = {
    "bench": "fraudstream.cli.bench:bench",
    "certs": "fraudstream.cli.certs:certs",
    "demo": "fraudstream.cli.demo:demo",
    "experiment": "fraudstream.cli.experiment:experiment",
    "flink": "fraudstream.cli.flink:flink",
    "kafka": "fraudstream.cli.kafka:kafka",
    "model": "fraudstream.cli.model:model",
    "readiness": "fraudstream.cli.readiness:readiness",
    "replay": "fraudstream.cli.replay:replay_command",
    "review": "fraudstream.cli.review:review",
    "serve": "fraudstream.cli.serve:serve",
    "tokens": "fraudstream.cli.certs:tokens",
}

# Other packages add commands through this entry-point group (training adds
# `data`, `train`, `evaluate`), so this module never imports their commands by
# name. Elsewhere the CLI reads and simulates PaySim data through training's
# public API, `fraudstream.training.api`, and nothing else of training.
COMMANDS_GROUP = "fraudstream.commands"


def _load(target: str) -> click.Command:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]


def _unavailable(name: str, target: str, error: ImportError) -> click.Command:
    message = f"`fraudstream {name}` is unavailable: cannot import {target} ({error})"

    def fail() -> None:
        raise click.ClickException(message)

    return click.Command(name, callback=fail, help=f"(unavailable: {error})")


class _LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def _targets(self) -> dict[str, str]:
        targets = dict(_BUILTIN_COMMANDS)
        for ep in entry_points(group=COMMANDS_GROUP):
            targets.setdefault(ep.name, ep.value)
        return targets

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._targets()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        target = self._targets().get(cmd_name)
        if target is None:
            return None
        try:
            return _load(target)
        except ImportError as exc:
            # A broken or half-installed package must not take `fraudstream --help` down with it.
            return _unavailable(cmd_name, target, exc)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fraudstream-cli", prog_name="fraudstream")
def cli() -> None:
    """fraudstream: real-time fraud detection for mobile-money payments.

    Kafka in, an ensemble of models scoring micro-batches over gRPC, alerts to
    analysts, their labels back into online learning.
    """


def main(argv: list[str] | None = None) -> None:
    """Run the CLI (console-script entry point)."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="fraudstream")


if __name__ == "__main__":
    main()
