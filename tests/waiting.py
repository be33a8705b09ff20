"""Waiting in a test for what another thread or process does: poll until true, or fail."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    condition: Callable[[], bool],
    timeout: float = 10.0,
    what: str = "the condition",
    every: float = 0.01,
) -> None:
    """Return once `condition()` is true; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(every)
