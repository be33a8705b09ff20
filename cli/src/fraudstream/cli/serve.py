"""`fraudstream serve NAME`: run one service, found by its `fraudstream.services` entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import click

SERVICES_GROUP = "fraudstream.services"


def _services() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=SERVICES_GROUP)}


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("service", required=False)
@click.pass_context
def serve(ctx: click.Context, service: str | None) -> None:
    """Run one service: scorer, ingest, feedback, learner or console.

    Every option after the name goes to the service (`fraudstream serve scorer --help`).
    """
    available = _services()
    if service in (None, "-h", "--help"):
        click.echo(ctx.get_help())
        click.echo(f"\nServices: {', '.join(sorted(available)) or '(none installed)'}")
        return
    if service not in available:
        raise click.UsageError(
            f"unknown service {service!r}; installed services: {', '.join(sorted(available))}"
        )
    (ep,) = [ep for ep in entry_points(group=SERVICES_GROUP) if ep.name == service]
    run = ep.load()
    ctx.exit(run(list(ctx.args)) or 0)
