"""Progress bars on stderr (rich), so stdout stays clean for --json output."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

logger = logging.getLogger(__name__)


def stderr_progress(disable: bool = False) -> Progress:
    """A rich Progress that draws on stderr and stays quiet when stderr is not a terminal."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=disable or not console.is_terminal,
    )
