"""The `--pattern NAME=SHARE` option of `fraudstream data simulate`."""

from __future__ import annotations

import logging
from typing import Any

import click

logger = logging.getLogger(__name__)


def _pattern_shares(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, float], ...]:
    """(name, share) pairs in the order given; a typo or a share outside [0, 1) is a usage error."""
    from fraudstream.training.patterns import PATTERNS

    shares: dict[str, float] = {}
    for value in values:
        name, _, share = value.partition("=")
        try:
            rate = float(share)
        except ValueError:
            rate = float("nan")
        if name not in PATTERNS or not 0.0 <= rate < 1.0:
            raise click.BadParameter(
                f"{value!r}: use NAME=SHARE, NAME one of {', '.join(PATTERNS)}, SHARE in [0, 1)"
            )
        if name in shares:
            raise click.BadParameter(f"{name} given twice")
        shares[name] = rate
    return tuple(shares.items())


def pattern_option(command: Any) -> Any:
    """Adds `--pattern` (repeatable) to a click command, as the `patterns` parameter."""
    return click.option(
        "--pattern",
        "patterns",
        multiple=True,
        callback=_pattern_shares,
        metavar="NAME=SHARE",
        help="Add a stateful fraud pattern (mule_fan_in, takeover_burst, structuring) at a share"
        " of the rows, e.g. mule_fan_in=0.002; repeatable. Which rows: <out>.patterns.csv.",
    )(command)
