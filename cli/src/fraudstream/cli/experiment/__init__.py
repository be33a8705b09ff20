"""`fraudstream experiment`: measurements of the running pipeline (drift, stationary, ...)."""

from __future__ import annotations

import logging

import click

from fraudstream.cli.experiment.drift import drift
from fraudstream.cli.experiment.stationary import stationary

logger = logging.getLogger(__name__)


@click.group("experiment")
def experiment() -> None:
    """Experiments with the running pipeline."""


experiment.add_command(drift)
experiment.add_command(stationary)


def _register() -> None:
    """The fault-injection and soak commands live in their own modules of this package."""
    from fraudstream.cli.experiment.accounts import accounts
    from fraudstream.cli.experiment.chaos import chaos
    from fraudstream.cli.experiment.soak import soak

    experiment.add_command(accounts)
    experiment.add_command(chaos)
    experiment.add_command(soak)


_register()
